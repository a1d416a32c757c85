import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { lstat, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { background, withNamespace } from "@sandboxd/core";
import { isFailedPrecondition } from "@sandboxd/errdefs";
import { openImagesDb } from "../db.js";
import { LocalContentStore } from "../content/store.js";
import { openSnapshotter, overlaySupported } from "../snapshots/open.js";
import { tarArchive } from "../archive/tarwriter.js";
import { chainIds } from "./unpack.js";
import { unpackImage } from "./image.js";

const ctx = withNamespace(background(), "default");
const sha = (b: Uint8Array): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;

test("unpackImage: chain IDs committed once, labels for GC, wrong diffID commits nothing", async (t) => {
  if (!overlaySupported()) return t.skip("no overlayfs");
  const dir = await mkdtemp(join(tmpdir(), "sbxd-unpack-image-"));
  const db = openImagesDb(join(dir, "meta.db"));
  try {
    const content = new LocalContentStore(join(dir, "content"), db);
    await content.init();
    const s = await openSnapshotter(dir, "overlayfs", db);
    const put = async (b: Buffer): Promise<string> => {
      const w = await content.writer(ctx, { ref: sha(b) });
      await w.write(b);
      await w.commit(b.length, sha(b));
      return sha(b);
    };
    const t1 = tarArchive([
      { name: "etc/hello", data: "hi" },
      { name: "etc/bye", data: "x" },
    ]);
    const t2 = tarArchive([{ name: "etc/.wh.bye" }, { name: "etc/new", data: "n" }]);
    const l1 = await put(gzipSync(t1));
    const l2 = await put(zstdCompressSync(t2));
    const image = async (diffIds: string[]): Promise<{ manifest: string; config: string }> => {
      const cfg = Buffer.from(JSON.stringify({ rootfs: { type: "layers", diff_ids: diffIds } }));
      const config = await put(cfg);
      const m = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          config: { digest: config, size: cfg.length },
          layers: [{ digest: l1 }, { digest: l2 }],
        }),
      );
      return { manifest: await put(m), config };
    };
    const good = await image([sha(t1), sha(t2)]);
    const r = await unpackImage(ctx, content, s, good.manifest);
    const chain = chainIds([sha(t1), sha(t2)]);
    assert.deepEqual(r, { chainId: chain[1], applied: 2, layers: 2 });
    assert.deepEqual(
      s.walk(ctx).map((i) => i.name),
      [...chain].sort(),
    );
    assert.equal(
      (await content.info(ctx, good.config)).labels["containerd.io/gc.ref.snapshot.overlayfs"],
      chain[1],
    );
    assert.equal((await content.info(ctx, l2)).labels["containerd.io/uncompressed"], sha(t2));
    // The whiteout landed as overlay's 0/0 char device in the top snapshot.
    const top = (await s.prepare(ctx, "c", chain[1]))[0];
    const lower =
      top?.options
        .find((o) => o.startsWith("lowerdir="))
        ?.slice(9)
        .split(":")[0] ?? "";
    assert.ok((await lstat(join(lower, "etc/bye"))).isCharacterDevice());
    await s.remove(ctx, "c");
    // Present: nothing applied again.
    assert.equal((await unpackImage(ctx, content, s, good.manifest)).applied, 0);

    // A config that lies about a diffID: FailedPrecondition, no snapshot left behind.
    for (const key of [...chain].reverse()) await s.remove(ctx, key);
    const bad = await image([sha(t1), sha(Buffer.from("not the layer"))]);
    await assert.rejects(unpackImage(ctx, content, s, bad.manifest), (e) => {
      assert.ok(isFailedPrecondition(e));
      assert.match(String(e), /wrong diff id calculated on extraction/);
      return true;
    });
    assert.deepEqual(
      s.walk(ctx).map((i) => i.name),
      [chain[0]],
    );
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
});
