import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { background, withNamespace } from "@sandboxd/core";
import { isNotFound, notFound } from "@sandboxd/errdefs";
import { openImagesDb, openSnapshotter } from "@sandboxd/images";
import { UsageMemo, type Measure } from "./snapshot-usage.js";

const k8s = withNamespace(background(), "k8s.io");

/** A measure whose walks finish when the test says so; counts walks and the most at once. */
function gatedMeasure() {
  const gates: (() => void)[] = [];
  const s = { walks: 0, running: 0, most: 0, size: 100 };
  const measure: Measure = async () => {
    s.walks++;
    s.running++;
    s.most = Math.max(s.most, s.running);
    await new Promise<void>((resolve) => gates.push(resolve));
    s.running--;
    return { size: s.size, inodes: 1 };
  };
  const open = async (): Promise<void> => {
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
    gates.shift()?.();
  };
  return { s, measure, open };
}

test("UsageMemo: one walk is shared while in flight and reused until maxAge, then measured again", async () => {
  let now = 1_000;
  const g = gatedMeasure();
  const memo = new UsageMemo(g.measure, { maxAgeMs: 2000, now: () => now });
  const a = memo.get(k8s, "overlayfs", "c1");
  const b = memo.get(k8s, "overlayfs", "c1");
  await g.open();
  assert.deepEqual(await a, { size: 100, inodes: 1, atMs: 1_000 });
  assert.equal(await b, await a);
  now += 2000;
  assert.equal((await memo.get(k8s, "overlayfs", "c1")).size, 100);
  assert.equal(g.s.walks, 1, "reused within maxAge");
  now += 1;
  g.s.size = 300;
  const c = memo.get(k8s, "overlayfs", "c1");
  await g.open();
  assert.deepEqual(await c, { size: 300, inodes: 1, atMs: 3_001 });
  assert.equal(g.s.walks, 2);
});

test("UsageMemo: keys are per snapshotter and namespace; forget drops a measurement", async () => {
  const seen: string[] = [];
  const memo = new UsageMemo((_ctx, snapshotter, key) => {
    seen.push(`${snapshotter}/${key}`);
    return Promise.resolve({ size: seen.length, inodes: 0 });
  });
  await memo.get(k8s, "overlayfs", "c1");
  await memo.get(withNamespace(background(), "default"), "overlayfs", "c1");
  await memo.get(k8s, "native", "c1");
  assert.equal(seen.length, 3);
  await memo.get(k8s, "overlayfs", "c1");
  assert.equal(seen.length, 3);
  memo.forget(k8s, "overlayfs", "c1");
  assert.equal((await memo.get(k8s, "overlayfs", "c1")).size, 4);
});

test("UsageMemo: a failure is not kept, the next call measures again", async () => {
  let fail = true;
  const memo = new UsageMemo(() =>
    fail ? Promise.reject(notFound("snapshot c1")) : Promise.resolve({ size: 7, inodes: 2 }),
  );
  await assert.rejects(memo.get(k8s, "overlayfs", "c1"), (err) => isNotFound(err));
  fail = false;
  assert.equal((await memo.get(k8s, "overlayfs", "c1")).size, 7);
});

test("UsageMemo: at most `parallel` walks at once across callers; every caller is answered", async () => {
  const g = gatedMeasure();
  const memo = new UsageMemo(g.measure, { parallel: 2 });
  const all = Array.from({ length: 6 }, (_, i) => memo.get(k8s, "overlayfs", `c${i}`));
  for (let i = 0; i < 6; i++) await g.open();
  const done = await Promise.all(all);
  assert.equal(done.length, 6);
  assert.equal(g.s.walks, 6);
  assert.equal(g.s.most, 2);
});

test("UsageMemo over a real snapshotter: an active snapshot's files are counted once re-measured", async () => {
  const dir = await mkdtemp(join(tmpdir(), "sbxd-usage-"));
  const db = openImagesDb(join(dir, "meta.db"));
  try {
    const s = await openSnapshotter(dir, "native", db);
    let now = 0;
    const memo = new UsageMemo((ctx, _name, key) => s.usage(ctx, key), { now: () => now });
    const mounts = await s.prepare(k8s, "c1");
    const before = await memo.get(k8s, "native", "c1");
    const src = mounts[0]?.source ?? "";
    await writeFile(join(src, "big"), Buffer.alloc(2 << 20, 1));
    now += 60_000;
    const after = await memo.get(k8s, "native", "c1");
    assert.ok(after.size - before.size >= 2 << 20, `${after.size} - ${before.size} >= 2 MiB`);
    assert.equal(after.inodes, before.inodes + 1);
    await s.remove(k8s, "c1");
    memo.forget(k8s, "native", "c1");
    await assert.rejects(memo.get(k8s, "native", "c1"), (err) => isNotFound(err));
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
});
