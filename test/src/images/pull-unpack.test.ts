// Pull + unpack end to end: images built here, served by a real docker-registry, fetched
// into the real content store and unpacked into overlayfs snapshots; the mounted result is
// checked (whiteouts, opaque dirs), and hostile layers leave nothing outside their snapshot.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { background, type Ctx } from "@sandboxd/core";
import {
  ImageStore,
  LocalContentStore,
  PullService,
  storeRecords,
  chainIds,
  openImagesDb,
  openSnapshotter,
  overlaySupported,
  unpackImage,
} from "@sandboxd/images";
import {
  buildImage,
  hostileSpec,
  multiLayerSpec,
  pushImage,
  requireRoot,
  run,
  startRegistry,
  tempDir,
  type AfterHook,
  type HostileKind,
} from "@sandboxd/testing";

const ctx: Ctx = { ...background(), namespace: "default" };

async function stack(t: AfterHook) {
  const dir = await tempDir(t, "sbx-unpack-");
  const db = openImagesDb(join(dir, "meta.db"));
  t.after(() => db.close());
  const content = new LocalContentStore(join(dir, "content"), db);
  await content.init();
  const snapshotter = await openSnapshotter(dir, overlaySupported() ? "overlayfs" : "native", db);
  const images = storeRecords(new ImageStore(db));
  const service = new PullService({
    content,
    images,
    backoffMs: 10,
    unpack: async (c, image) => {
      await unpackImage(c, content, snapshotter, image.manifest.digest);
    },
  });
  return { dir, content, snapshotter, images, service };
}

test("a two-layer image unpacks into chain-ID snapshots; the mounted rootfs shows whiteouts applied", async (t) => {
  requireRoot("mounting an overlay");
  const reg = await startRegistry(t);
  const image = buildImage(multiLayerSpec("oci"));
  const name = await pushImage(reg, "library/busybox", "latest", image);
  const s = await stack(t);
  const pulled = await s.service.pull(ctx, name);
  const chain = chainIds(pulled.imageConfig.rootfs.diff_ids);
  for (const id of chain) assert.equal(s.snapshotter.stat(ctx, id).kind, 3, `${id} committed`);
  const layer0 = await s.content.info(ctx, image.layers[0]?.digest ?? "");
  assert.equal(layer0.labels["containerd.io/uncompressed"], image.layers[0]?.diffID);
  const config = await s.content.info(ctx, image.config.digest);
  assert.equal(config.labels[`containerd.io/gc.ref.snapshot.${s.snapshotter.name}`], chain.at(-1));

  const mounts = await s.snapshotter.view(ctx, "check", chain.at(-1));
  const target = join(s.dir, "mnt");
  await mkdir(target);
  const m = mounts[0];
  assert.ok(m);
  const mounted = await run("mount", ["-t", m.type, m.source, target, "-o", m.options.join(",")]);
  assert.equal(mounted.code, 0, mounted.stderr.toString());
  try {
    assert.equal(existsSync(join(target, "etc/hello")), false, "whiteout hides etc/hello");
    assert.deepEqual(readdirSync(join(target, "dir")), ["c"], "opaque dir shows only this layer");
    assert.equal(
      readFileSync(join(target, "etc/passwd"), "utf8").split("\n")[0],
      "root:x:0:0:root:/root:/bin/sh",
    );
    const sh = await run("chroot", [target, "/bin/sh", "-c", "echo $((6*7))"]);
    assert.equal(sh.stdout.toString(), "42\n");
  } finally {
    await run("umount", [target]);
    await s.snapshotter.remove(ctx, "check");
  }
  // Pulling again finds every layer unpacked.
  await s.service.pull(ctx, name);
  assert.equal(s.snapshotter.walk(ctx).length, 2);
});

for (const kind of [
  "dotdot",
  "absolute",
  "symlink-escape",
  "symlink-escape-layered",
  "hardlink-escape",
] as HostileKind[]) {
  test(`hostile image (${kind}) writes nothing outside its snapshot`, async (t) => {
    requireRoot("unpacking owners and devices");
    const reg = await startRegistry(t);
    const outside = await tempDir(t, "sbx-outside-");
    await mkdir(join(outside, "watched"));
    const watched = join(outside, "watched");
    // The hardlink case needs a real target outside: linking to it must not happen.
    const secret = join(watched, "pwned-target");
    if (kind === "hardlink-escape") await writeFile(secret, "secret\n");
    const before = kind === "hardlink-escape" ? ["pwned-target"] : [];
    const image = buildImage(hostileSpec(kind, watched));
    const name = await pushImage(reg, `hostile/${kind}`, "latest", image);
    const s = await stack(t);
    let error: Error | undefined;
    try {
      await s.service.pull(ctx, name);
    } catch (err) {
      error = err instanceof Error ? err : new Error(String(err));
    }
    if (kind === "hardlink-escape")
      assert.equal((await stat(secret)).nlink, 1, "no hardlink to the outside file");
    assert.deepEqual(
      await readdir(watched),
      before,
      `nothing written outside (pull ${error ? `failed: ${error.message}` : "succeeded"})`,
    );
    if (error) {
      assert.doesNotMatch(error.message, /Internal|unknown/i);
      // A refused layer leaves no committed snapshot behind.
      assert.equal(
        s.snapshotter.walk(ctx).filter((i) => i.kind === 3).length,
        kind === "symlink-escape-layered" ? 1 : 0,
      );
    }
  });
}
