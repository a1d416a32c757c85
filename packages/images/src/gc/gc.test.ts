import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { background, withNamespace } from "@sandboxd/core";
import { openImagesDb } from "../db.js";
import { ImageStore } from "../content/imagestore.js";
import { LocalContentStore } from "../content/store.js";
import { openSnapshotter } from "../snapshots/open.js";
import type { DirSnapshotter } from "../snapshots/snapshotter.js";
import { GarbageCollector, type GcRoots } from "./gc.js";

const ctx = withNamespace(background(), "default");
const sha = (s: string): string => `sha256:${createHash("sha256").update(s).digest("hex")}`;

test("GC keeps everything reachable from images, leases, gc.root and containers, and nothing else", async () => {
  const dir = await mkdtemp(join(tmpdir(), "sbxd-gc-"));
  const db = openImagesDb(join(dir, "meta.db"));
  try {
    const content = new LocalContentStore(join(dir, "content"), db);
    await content.init();
    const images = new ImageStore(db);
    const native = await openSnapshotter(dir, "native", db);
    const snapshotters = new Map<string, DirSnapshotter>([["native", native]]);
    const lease: { type: string; id: string }[] = [];
    const containers: { snapshotKey: string }[] = [];
    const roots: GcRoots = {
      leaseResources: () => lease.map((r) => ({ namespace: "default", ...r })),
      containers: () =>
        containers.map((c) => ({
          namespace: "default",
          snapshotter: "native",
          snapshotKey: c.snapshotKey,
          labels: {},
        })),
    };
    const gc = new GarbageCollector({ db, content, images, snapshotters, roots });
    const put = async (data: string, labels: Record<string, string> = {}): Promise<string> => {
      const w = await content.writer(ctx, { ref: data });
      await w.write(Buffer.from(data));
      await w.commit(0, "", labels);
      return sha(data);
    };
    const commit = async (name: string, parent = "", labels: Record<string, string> = {}) => {
      await native.prepare(ctx, `k-${name}`, parent);
      await native.commit(ctx, name, `k-${name}`, labels);
    };

    await commit("S1");
    await commit("S2", "S1");
    await commit("orphan-snap");
    await native.prepare(ctx, "container", "S2");
    await native.prepare(ctx, "dangling", "S2");
    containers.push({ snapshotKey: "container" });
    const l0 = await put("layer0");
    const cfg = await put("config", { "containerd.io/gc.ref.snapshot.native": "S2" });
    const manifest = await put("manifest", {
      "containerd.io/gc.ref.content.config": cfg,
      "containerd.io/gc.ref.content.l.0": l0,
    });
    const index = await put("index", { "containerd.io/gc.ref.content.m.0": manifest });
    const orphan = await put("orphan");
    const rooted = await put("rooted", { "containerd.io/gc.root": "" });
    const leased = await put("leased");
    lease.push({ type: "content", id: leased });
    images.create(ctx, {
      name: "img",
      labels: {},
      target: {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: manifest,
        size: 8,
        annotations: {},
      },
    });

    const first = await gc.collect(ctx);
    const have = async (): Promise<string[]> =>
      (await content.list(ctx)).map((i) => i.digest).sort();
    assert.deepEqual(await have(), [l0, cfg, manifest, rooted, leased].sort());
    assert.ok(!(await have()).includes(index) && !(await have()).includes(orphan));
    assert.deepEqual(
      native.walk(ctx).map((s) => s.name),
      ["S1", "S2", "container"],
    );
    assert.equal(first.snapshots, 2);
    assert.equal((await readdir(join(dir, "content", "blobs", "sha256"))).length, 5);

    // Nothing changes on a second run.
    assert.deepEqual(await gc.collect(ctx), { content: 0, snapshots: 0, ingests: 0 });

    // Without the image and the lease, only the container's chain and the root stay.
    images.delete(ctx, "img");
    lease.length = 0;
    await gc.collect(ctx);
    assert.deepEqual(await have(), [rooted]);
    assert.deepEqual(
      native.walk(ctx).map((s) => s.name),
      ["S1", "S2", "container"],
    );
    containers.length = 0;
    await gc.collect(ctx);
    assert.deepEqual(native.walk(ctx), []);
    assert.deepEqual(await readdir(join(native.root, "snapshots")), []);
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
});
