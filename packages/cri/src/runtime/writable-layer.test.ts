import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ContainerConfigSchema } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { ContainerSchema } from "@sandboxd/api/services/containers/v1/containers_pb";
import { background, withNamespace } from "@sandboxd/core";
import { notFound, unknown } from "@sandboxd/errdefs";
import type { FsUsage, ImagesPort } from "../backend.js";
import type { CriContainer } from "./records.js";
import { writableLayers } from "./writable-layer.js";

const ctx = withNamespace(background(), "k8s.io");

function container(id: string, snapshot?: { snapshotter: string; key: string }): CriContainer {
  return {
    id,
    config: create(ContainerConfigSchema, {}),
    state: { sandboxId: "p", logPath: "", image: "img" },
    createdAtMs: 0,
    record: create(ContainerSchema, {
      id,
      ...(snapshot ? { snapshotter: snapshot.snapshotter, snapshotKey: snapshot.key } : {}),
    }),
  };
}

/** The snapshot side of an ImagesPort: roots of two snapshotters and usage by key. */
function port(usage: Record<string, FsUsage | Error>): Pick<
  ImagesPort,
  "snapshotter" | "root" | "usage"
> & {
  asked: string[];
} {
  const roots: Record<string, string> = {
    overlayfs: "/var/lib/sbx/io.containerd.snapshotter.v1.overlayfs",
    native: "/var/lib/sbx/io.containerd.snapshotter.v1.native",
  };
  const asked: string[] = [];
  return {
    snapshotter: "overlayfs",
    asked,
    root(name) {
      const r = roots[name];
      if (!r) throw notFound(`snapshotter ${name}`);
      return r;
    },
    usage(_ctx, name, key) {
      asked.push(`${name}/${key}`);
      const u = usage[key];
      if (u === undefined) return Promise.reject(notFound(`snapshot ${key}`));
      return u instanceof Error ? Promise.reject(u) : Promise.resolve(u);
    },
  };
}

test("writable layer: the container's snapshot usage on its snapshotter's root, as measured", async () => {
  const p = port({
    c1: { usedBytes: 3 << 20, inodesUsed: 12, timestampMs: 1_700_000_000_000 },
    c2: { usedBytes: 4096, inodesUsed: 1, timestampMs: 1_700_000_000_500 },
  });
  const layers = await writableLayers(ctx, p, [
    container("a", { snapshotter: "overlayfs", key: "c1" }),
    container("b", { snapshotter: "native", key: "c2" }),
  ]);
  assert.deepEqual(p.asked.sort(), ["native/c2", "overlayfs/c1"]);
  const a = layers.get("a");
  assert.equal(a?.fsId?.mountpoint, "/var/lib/sbx/io.containerd.snapshotter.v1.overlayfs");
  assert.equal(a?.usedBytes?.value, BigInt(3 << 20));
  assert.equal(a?.inodesUsed?.value, 12n);
  assert.equal(a?.timestamp, 1_700_000_000_000_000_000n);
  const b = layers.get("b");
  assert.equal(b?.fsId?.mountpoint, "/var/lib/sbx/io.containerd.snapshotter.v1.native");
  assert.equal(b?.usedBytes?.value, 4096n);
});

test("writable layer: no snapshot, a removed one or a failed walk is 0 on the snapshotter's root, not an error", async () => {
  const p = port({ broken: unknown("walk failed: EACCES") });
  // In bigint: ms × 10⁶ as a double is past 2⁵³ and may round up, above the exact value.
  const start = BigInt(Date.now()) * 1_000_000n;
  const layers = await writableLayers(ctx, p, [
    container("local"),
    container("gone", { snapshotter: "overlayfs", key: "gone" }),
    container("broken", { snapshotter: "overlayfs", key: "broken" }),
    container("odd", { snapshotter: "zfs", key: "gone" }),
  ]);
  assert.deepEqual(p.asked.sort(), ["overlayfs/broken", "overlayfs/gone", "zfs/gone"]);
  for (const id of ["local", "gone", "broken", "odd"]) {
    const l = layers.get(id);
    assert.equal(l?.fsId?.mountpoint, "/var/lib/sbx/io.containerd.snapshotter.v1.overlayfs", id);
    assert.equal(l?.usedBytes?.value, 0n, id);
    assert.equal(l?.inodesUsed?.value, 0n, id);
    assert.ok((l?.timestamp ?? 0n) >= start, `${id}: sampled now`);
  }
});
