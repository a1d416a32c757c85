import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { link, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { background, withNamespace } from "@sandboxd/core";
import { openImagesDb } from "../db.js";
import { LocalContentStore } from "../content/store.js";
import { openSnapshotter, overlaySupported } from "../snapshots/open.js";
import type { Mount } from "../snapshots/types.js";
import { applyLayer } from "../unpack/unpack.js";
import { commitTreeLayer, diffSource } from "./diff.js";
import { tarArchive } from "./tarwriter.js";

const ctx = withNamespace(background(), "default");

function mount(m: Mount, target: string): void {
  if (m.type === "bind") execFileSync("mount", ["--bind", m.source, target]);
  else execFileSync("mount", ["-t", "overlay", "overlay", target, "-o", m.options.join(",")]);
}

test("diff of an overlay snapshot is a layer that reproduces its changes (whiteouts, opaque dirs, hardlinks)", async (t) => {
  if (!overlaySupported()) return t.skip("no overlayfs");
  const dir = await mkdtemp(join(tmpdir(), "sbxd-diff-"));
  const db = openImagesDb(join(dir, "meta.db"));
  const mnt = join(dir, "mnt");
  await mkdir(mnt);
  try {
    const content = new LocalContentStore(join(dir, "content"), db);
    await content.init();
    const s = await openSnapshotter(dir, "overlayfs", db);
    const base = tarArchive([
      { name: "etc/hello", data: "hi" },
      { name: "etc/keep", data: "keep" },
      { name: "dir/a", data: "a" },
    ]);
    await writeFile(join(dir, "base.tar"), base);
    const m0 = await s.prepare(ctx, "base-key");
    await applyLayer(ctx, join(dir, "base.tar"), m0);
    await s.commit(ctx, "base", "base-key");

    const c = await s.prepare(ctx, "container", "base");
    mount(c[0] as Mount, mnt);
    try {
      await rm(join(mnt, "etc/hello"));
      await rm(join(mnt, "dir"), { recursive: true });
      await mkdir(join(mnt, "dir"));
      await writeFile(join(mnt, "dir/new"), "new");
      await writeFile(join(mnt, "file1"), "linked");
      await link(join(mnt, "file1"), join(mnt, "file2"));
    } finally {
      execFileSync("umount", [mnt]);
    }
    const left = await s.view(ctx, "base-view", "base");
    const layer = await commitTreeLayer(ctx, content, diffSource(left, c));
    assert.match(layer.mediaType, /tar\+gzip$/);
    const info = await content.info(ctx, layer.digest);
    assert.equal(info.labels["containerd.io/uncompressed"], layer.diffId);

    // Applying the diff on the base gives the container's view.
    const m2 = await s.prepare(ctx, "replay", "base");
    const applied = await applyLayer(ctx, content.blobPath(layer.digest), m2);
    assert.equal(applied.diffId, layer.diffId);
    mount(m2[0] as Mount, mnt);
    try {
      assert.deepEqual((await readdir(join(mnt, "etc"))).sort(), ["keep"]);
      assert.deepEqual(await readdir(join(mnt, "dir")), ["new"]);
      assert.equal(await readFile(join(mnt, "file2"), "utf8"), "linked");
      assert.equal((await stat(join(mnt, "file1"))).ino, (await stat(join(mnt, "file2"))).ino);
    } finally {
      execFileSync("umount", [mnt]);
    }
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
});
