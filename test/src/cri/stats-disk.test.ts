// The disk half of the CRI stats, against a real sandboxd + sbx-sandboxer +
// runc and a loopback registry: a container of a pulled image has its own
// active snapshot, and its writable layer in ContainerStats /
// ListContainerStats / PodSandboxStats / ListPodSandboxStats (crictl stats'
// DISK and INODES) is that snapshot's usage on the snapshotter's directory,
// as containerd's CRI answers; ImageFsInfo counts it too. A container of a
// local directory has no snapshot: 0 on the same mountpoint, as containerd
// answers for a container its snapshot cache does not know.
import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import { after, before, test } from "node:test";
import type { FilesystemUsage } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { waitUntil } from "@sandboxd/testing";
import { containerConfig, podConfig } from "./harness.js";
import { openRegistryWorld, type RegistryWorld } from "./registry-world.js";

const MiB = 1n << 20n;
let r: RegistryWorld;
let podId = "";
let pod: ReturnType<typeof podConfig>;
let image = "";

before(async () => {
  r = await openRegistryWorld();
  ({ name: image } = await r.push("library/disk", "1"));
  await r.im.pullImage({ image: { image } });
  pod = podConfig(r.w, "disk");
  ({ podSandboxId: podId } = await r.w.rt.runPodSandbox({ config: pod }));
});
after(async () => {
  await r?.close();
});

async function run(name: string, img: string): Promise<string> {
  const { containerId } = await r.w.rt.createContainer({
    podSandboxId: podId,
    config: containerConfig(r.w, name, ["sleep", "3600"], { image: { image: img } }),
    sandboxConfig: pod,
  });
  await r.w.rt.startContainer({ containerId });
  return containerId;
}

const used = (l: FilesystemUsage | undefined) => l?.usedBytes?.value ?? 0n;
const inodes = (l: FilesystemUsage | undefined) => l?.inodesUsed?.value ?? 0n;

async function layerOf(id: string): Promise<FilesystemUsage | undefined> {
  const { stats } = await r.w.rt.listContainerStats({ filter: { id } });
  assert.equal(stats.length, 1);
  return stats[0]?.writableLayer;
}

async function imageFs(): Promise<FilesystemUsage> {
  const fs = await r.im.imageFsInfo({});
  assert.equal(fs.imageFilesystems.length, 1);
  // containerd 2.1 answers no separate container filesystem either.
  assert.deepEqual(fs.containerFilesystems, []);
  const only = fs.imageFilesystems[0];
  assert.ok(only);
  return only;
}

test("a 2 MiB file written in a container's rootfs shows in its writable layer and in ImageFsInfo", async () => {
  const id = await run("writer", image);
  const fs0 = await imageFs();
  const mountpoint = fs0.fsId?.mountpoint ?? "";
  assert.match(mountpoint, /^.+\/io\.containerd\.snapshotter\.v1\.(overlayfs|native)$/);
  assert.ok(mountpoint.startsWith(r.w.daemon.root), `${mountpoint} under the daemon root`);
  assert.ok((await stat(mountpoint)).isDirectory());

  const start = BigInt(Date.now()) * 1_000_000n;
  const l0 = await layerOf(id);
  assert.equal(l0?.fsId?.mountpoint, mountpoint, "the snapshotter's root, as ImageFsInfo's");
  // The snapshot of a started container already holds what runc made (mount points at least).
  assert.ok(inodes(l0) >= 1n, "the upper directory itself");

  const wrote = await r.w.rt.execSync({
    containerId: id,
    cmd: ["busybox", "dd", "if=/dev/zero", "of=/big", "bs=1048576", "count=2"],
    timeout: 30n,
  });
  assert.equal(wrote.exitCode, 0, Buffer.from(wrote.stderr).toString());

  // Measurements are reused for a couple of seconds: wait for one taken after the write.
  const l1 = await waitUntil(
    async () => {
      const l = await layerOf(id);
      return used(l) >= used(l0) + 2n * MiB ? l : undefined;
    },
    { timeoutMs: 60_000, what: "ListContainerStats shows the 2 MiB file" },
  );
  assert.ok(inodes(l1) >= inodes(l0) + 1n, `${inodes(l1)} >= ${inodes(l0)} + 1 inodes`);
  assert.equal(l1.fsId?.mountpoint, mountpoint);
  assert.ok(l1.timestamp >= start, "measured after the first ask");
  assert.ok(l1.timestamp <= BigInt(Date.now()) * 1_000_000n);

  // ContainerStats, PodSandboxStats and ListPodSandboxStats answer the same layer.
  const one = (await r.w.rt.containerStats({ containerId: id })).stats?.writableLayer;
  assert.ok(used(one) >= used(l0) + 2n * MiB);
  assert.equal(one?.fsId?.mountpoint, mountpoint);
  const inPod = (await r.w.rt.podSandboxStats({ podSandboxId: podId })).stats?.linux?.containers;
  const mine = inPod?.find((c) => c.attributes?.id === id)?.writableLayer;
  assert.ok(used(mine) >= used(l0) + 2n * MiB, "PodSandboxStats' container");
  const listed = await r.w.rt.listPodSandboxStats({ filter: { id: podId } });
  const fromList = listed.stats[0]?.linux?.containers.find((c) => c.attributes?.id === id);
  assert.ok(used(fromList?.writableLayer) >= used(l0) + 2n * MiB, "ListPodSandboxStats' container");

  // ImageFsInfo is the sum of the snapshotter's snapshots, the container's included.
  const fs1 = await waitUntil(
    async () => {
      const f = await imageFs();
      return used(f) >= used(fs0) + 2n * MiB ? f : undefined;
    },
    { timeoutMs: 60_000, what: "ImageFsInfo counts the container's file" },
  );
  assert.ok(inodes(fs1) >= inodes(fs0) + 1n);
  assert.equal(fs1.fsId?.mountpoint, mountpoint);

  // Removed, its snapshot is no longer counted.
  await r.w.rt.stopContainer({ containerId: id, timeout: 0n });
  await r.w.rt.removeContainer({ containerId: id });
  const fs2 = await imageFs();
  assert.ok(used(fs2) <= used(fs1) - 2n * MiB, `${used(fs2)} <= ${used(fs1)} - 2 MiB`);
});

test("a container of a local directory has no snapshot: 0 bytes, 0 inodes on the snapshotter's root", async () => {
  const id = await run("local", r.w.image);
  const mountpoint = (await imageFs()).fsId?.mountpoint;
  const l = await layerOf(id);
  assert.equal(l?.fsId?.mountpoint, mountpoint);
  assert.equal(used(l), 0n);
  assert.equal(inodes(l), 0n);
  assert.ok((l?.timestamp ?? 0n) > 0n, "sampled now");
  const stats = await r.w.rt.listContainerStats({ filter: { podSandboxId: podId } });
  assert.ok(stats.stats.some((s) => s.attributes?.id === id));
});
