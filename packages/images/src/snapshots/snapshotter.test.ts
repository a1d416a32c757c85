import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { background, withNamespace, type Ctx } from "@sandboxd/core";
import {
  isAlreadyExists,
  isFailedPrecondition,
  isInvalidArgument,
  isNotFound,
} from "@sandboxd/errdefs";
import { openImagesDb } from "../db.js";
import { openSnapshotter, overlaySupported } from "./open.js";
import type { DirSnapshotter } from "./snapshotter.js";
import { Kind, type Mount } from "./types.js";

const ctx: Ctx = withNamespace(background(), "default");

async function withSnapshotter(
  name: "overlayfs" | "native",
  fn: (s: DirSnapshotter, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `sbxd-snap-${name}-`));
  const db = openImagesDb(join(dir, "meta.db"));
  try {
    const s = await openSnapshotter(dir, name, db);
    await fn(s, dir);
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Mounts like the shim does, runs fn, always unmounts. */
async function withMounted(
  mounts: Mount[],
  target: string,
  fn: () => Promise<void>,
): Promise<void> {
  const m = mounts[0] as Mount;
  await mkdir(target, { recursive: true });
  const opts = m.options.filter((o) => o !== "rbind" && o !== "rw" && o !== "ro");
  if (m.type === "bind") {
    execFileSync("mount", ["--rbind", m.source, target]);
    if (m.options.includes("ro")) execFileSync("mount", ["-o", "remount,bind,ro", target]);
  } else {
    execFileSync("mount", ["-t", m.type, m.source, target, "-o", opts.join(",")]);
  }
  try {
    await fn();
  } finally {
    execFileSync("umount", ["-l", target]);
  }
}

function sourceOf(m: Mount[]): string {
  const mount = m[0] as Mount;
  return mount.type === "bind"
    ? mount.source
    : (mount.options.find((o) => o.startsWith("upperdir="))?.slice(9) ?? "");
}

for (const name of ["overlayfs", "native"] as const) {
  test(`${name}: prepare/commit chain, real mounts see the layers`, async (t) => {
    if (name === "overlayfs" && !overlaySupported()) return t.skip("no overlayfs");
    await withSnapshotter(name, async (s, dir) => {
      const m1 = await s.prepare(ctx, "extract-1 sha256:a");
      assert.deepEqual(m1[0]?.type, "bind");
      assert.deepEqual(m1[0]?.options, ["rw", "rbind"]);
      await writeFile(join(sourceOf(m1), "base"), "layer1");
      await s.commit(ctx, "layer1", "extract-1 sha256:a", { "containerd.io/gc.root": "x" });
      assert.throws(() => s.stat(ctx, "extract-1 sha256:a"), isNotFound);
      const info = s.stat(ctx, "layer1");
      assert.equal(info.kind, Kind.Committed);
      assert.deepEqual(info.labels, { "containerd.io/gc.root": "x" });
      assert.ok((await s.usage(ctx, "layer1")).inodes >= 2);

      const m2 = await s.prepare(ctx, "extract-2", "layer1");
      if (name === "overlayfs") {
        assert.equal(m2[0]?.type, "overlay");
        assert.ok(m2[0]?.options.some((o) => o.startsWith("lowerdir=")));
      }
      const target = join(dir, "mnt");
      await withMounted(m2, target, async () => {
        assert.equal(await readFile(join(target, "base"), "utf8"), "layer1");
        await writeFile(join(target, "second"), "layer2");
      });
      await s.commit(ctx, "layer2", "extract-2");

      const c = await s.prepare(ctx, "container", "layer2");
      if (name === "overlayfs") {
        const lower = c[0]?.options
          .find((o) => o.startsWith("lowerdir="))
          ?.slice(9)
          .split(":");
        assert.equal(lower?.length, 2, "lowerdir lists both parents");
        assert.match(lower?.[0] ?? "", /\/2\/fs$/, "newest parent first");
        if (await lstat("/sys/module/overlay/parameters/index").catch(() => undefined)) {
          assert.equal(c[0]?.options[0], "index=off");
        }
      }
      await withMounted(c, target, async () => {
        assert.equal(await readFile(join(target, "base"), "utf8"), "layer1");
        assert.equal(await readFile(join(target, "second"), "utf8"), "layer2");
        await writeFile(join(target, "base"), "changed");
      });
      // The container's change stays in its own snapshot.
      const v = await s.view(ctx, "view", "layer2");
      await withMounted(v, target, async () => {
        assert.equal(await readFile(join(target, "base"), "utf8"), "layer1");
        await assert.rejects(writeFile(join(target, "x"), "y"), { code: "EROFS" });
      });
      if (name === "overlayfs") {
        const one = await s.view(ctx, "view1", "layer1");
        assert.deepEqual(one[0]?.type, "bind");
        assert.deepEqual(one[0]?.options, ["ro", "rbind"]);
        assert.deepEqual((await s.usage(ctx, "view1")).size, 0);
        await s.remove(ctx, "view1");
      }

      assert.deepEqual(
        s.walk(ctx).map((i) => [i.name, i.parent, i.kind]),
        [
          ["container", "layer2", Kind.Active],
          ["layer1", "", Kind.Committed],
          ["layer2", "layer1", Kind.Committed],
          ["view", "layer2", Kind.View],
        ],
      );
      assert.deepEqual(
        s.walk(ctx, ["kind==committed"]).map((i) => i.name),
        ["layer1", "layer2"],
      );
      await assert.rejects(s.remove(ctx, "layer1"), (e) => {
        assert.ok(isFailedPrecondition(e));
        assert.match(String(e), /cannot remove snapshot with child/);
        return true;
      });
      await s.remove(ctx, "container");
      await s.remove(ctx, "view");
      await s.remove(ctx, "layer2");
      await s.remove(ctx, "layer1");
      assert.deepEqual(await readdir(join(s.root, "snapshots")), []);
    });
  });
}

test("errors match containerd's", async () => {
  await withSnapshotter("overlayfs", async (s) => {
    await s.prepare(ctx, "a");
    await assert.rejects(s.prepare(ctx, "a"), isAlreadyExists);
    await assert.rejects(s.prepare(ctx, "b", "missing"), (e) => {
      assert.ok(isNotFound(e));
      assert.match(String(e), /parent snapshot missing does not exist/);
      return true;
    });
    await assert.rejects(s.prepare(ctx, "b", "a"), isInvalidArgument);
    await s.commit(ctx, "c", "a");
    await assert.rejects(s.commit(ctx, "d", "c"), isFailedPrecondition);
    assert.throws(() => s.mounts(ctx, "c"), isFailedPrecondition);
    await s.prepare(ctx, "e");
    await assert.rejects(s.commit(ctx, "c", "e"), isAlreadyExists);
    // The Go unpacker's target label: the chainID exists already.
    await assert.rejects(
      s.prepare(ctx, "f", "", { "containerd.io/snapshot.ref": "c" }),
      isAlreadyExists,
    );
    assert.throws(() => s.stat(ctx, "nope"), isNotFound);
    const other = withNamespace(background(), "other");
    assert.throws(() => s.stat(other, "c"), isNotFound);
    const info = s.update(ctx, { name: "c", labels: { x: "1", y: "2" } });
    assert.deepEqual(info.labels, { x: "1", y: "2" });
    assert.deepEqual(s.update(ctx, { name: "c", labels: {} }, ["labels.x"]).labels, { y: "2" });
    assert.throws(() => s.update(ctx, { name: "c", labels: {} }, ["parent"]), isInvalidArgument);
  });
});

test("cleanup removes directories no snapshot owns", async () => {
  await withSnapshotter("overlayfs", async (s) => {
    await s.prepare(ctx, "keep");
    await mkdir(join(s.root, "snapshots", "new-dead"));
    await mkdir(join(s.root, "snapshots", "99"));
    await s.cleanup(ctx);
    assert.deepEqual(await readdir(join(s.root, "snapshots")), ["1"]);
  });
});
