/**
 * Issue 11's image benchmarks, sandboxd and Debian's containerd 1.6 in the
 * same rounds (order rotated every round), images from the bench's own
 * registry on loopback:
 *
 * - pull + unpack of a two-layer image (busybox + ~20 MB / ~9,000 files), cold
 *   every time: after each pull the image is removed and collected (untimed),
 *   and the big layer must be gone from the content store before the next;
 * - unpack alone of the big layer: snapshots.Prepare + diff.Apply + snapshots.Commit
 *   through the same gRPC client on both daemons (the layer already in content);
 * - start-to-exit of `/bin/true` from an image that is present.
 */
import { Content } from "@sandboxd/api/services/content/v1/content_pb";
import { Diff } from "@sandboxd/api/services/diff/v1/diff_pb";
import { Leases } from "@sandboxd/api/services/leases/v1/leases_pb";
import { Snapshots } from "@sandboxd/api/services/snapshots/v1/snapshots_pb";
import { Code, codeOf, kindOf } from "@sandboxd/errdefs";
import { Channel } from "@sandboxd/grpc";
import { runCtr, type Containerd } from "@sandboxd/testing";
import type { BenchImages } from "./bench-images.js";
import { alternateWithReset, loadavg, type Resettable } from "./rounds.js";
import { exitOf } from "./start-to-exit.js";
import { summarize, type Summary } from "./stats.js";
import { NAMESPACE, type SbxStack } from "./systems.js";

export const PullSystem = {
  ctrContainerd: "ctr images pull → containerd 1.6",
  sbx: "sbx pull → sandboxd",
  ctrSandboxd: "ctr images pull → sandboxd",
} as const;
export const UnpackSystem = {
  containerd: "diff.Apply → containerd 1.6",
  sandboxd: "diff.Apply → sandboxd",
} as const;
export const RunSystem = {
  ctrContainerd: "ctr run --rm IMAGE → containerd 1.6",
  sbx: "sbx run --rm --image IMAGE",
  ctrSandboxd: "ctr run --rm IMAGE → sandboxd",
} as const;

export interface Timed {
  summary: Summary;
  samples: number[];
}

export interface ImagesResult {
  rounds: number;
  warmup: number;
  /** The pulled image: its layers' compressed sizes (bytes). */
  pulled: { ref: string; layerBytes: number[] };
  /** The unpacked layer: files, uncompressed and compressed bytes. */
  layer: { files: number; bytes: number; compressedBytes: number };
  pull: Record<string, Timed>;
  unpack: Record<string, Timed>;
  run: Record<string, Timed>;
  /** Load averages (1/5/15 min) as the section started and ended. */
  load: { start: number[]; end: number[] };
}

export interface ImagesOptions {
  rounds: number;
  warmup: number;
  containerd: Containerd;
  stack: SbxStack;
  images: BenchImages;
  sbxBin: string;
}

function summed(samples: Record<string, number[]>): Record<string, Timed> {
  return Object.fromEntries(
    Object.entries(samples).map(([k, s]) => [k, { summary: summarize(s), samples: s }]),
  );
}

async function ok(
  what: string,
  p: Promise<{ code: number | null; stderr: string }>,
): Promise<void> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}: ${r.stderr.trim()}`);
}

export async function benchImages(o: ImagesOptions): Promise<ImagesResult> {
  const load = { start: loadavg(), end: [] as number[] };
  const ctd = o.containerd.address;
  const sbd = o.stack.sandboxd.address;
  const ref = o.images.big.ref;
  const ctr = (address: string, args: string[]) =>
    runCtr(address, args, { namespace: NAMESPACE, timeoutMs: 300_000 });
  const sbx = (args: string[]) => exitOf(o.sbxBin, ["--address", sbd, "-n", NAMESPACE, ...args]);
  const channels = [ctd, sbd].map(
    (a) => new Channel(a, { metadata: { "containerd-namespace": NAMESPACE } }),
  );
  const [ctdChannel, sbdChannel] = channels as [Channel, Channel];
  try {
    // Cold pulls: the reset removes the image with a synchronous GC, and checks that it did.
    const gone = (channel: Channel, system: string) => async (): Promise<void> => {
      const info = await channel
        .client(Content)
        .info({ digest: o.images.bigLayer.digest })
        .then(
          () => true,
          (err: unknown) => {
            if (codeOf(kindOf(err)) === Code.NotFound) return false;
            throw err;
          },
        );
      if (info) throw new Error(`${system}: the big layer is still in content after removal`);
    };
    const ctrRm = (address: string) =>
      ok("ctr images rm --sync", ctr(address, ["images", "rm", "--sync", ref]));
    const pull: Record<string, Resettable> = {
      [PullSystem.ctrContainerd]: {
        once: () =>
          ok("ctr images pull (containerd)", ctr(ctd, ["images", "pull", "--plain-http", ref])),
        reset: async () => {
          await ctrRm(ctd);
          await gone(ctdChannel, PullSystem.ctrContainerd)();
        },
      },
      [PullSystem.sbx]: {
        once: () => ok("sbx pull", sbx(["pull", ref])),
        reset: async () => {
          await ok("sbx image rm", sbx(["image", "rm", ref]));
          await gone(sbdChannel, PullSystem.sbx)();
        },
      },
      [PullSystem.ctrSandboxd]: {
        once: () =>
          ok("ctr images pull (sandboxd)", ctr(sbd, ["images", "pull", "--plain-http", ref])),
        reset: async () => {
          await ok("sbx image rm", sbx(["image", "rm", ref]));
          await gone(sbdChannel, PullSystem.ctrSandboxd)();
        },
      },
    };
    const pullSamples = await alternateWithReset(pull, o.rounds, o.warmup);

    // The big layer and busybox stay in both daemons for the unpack and run measurements.
    await pull[PullSystem.ctrContainerd]!.once();
    await pull[PullSystem.sbx]!.once();
    const unpackSamples = await alternateWithReset(
      {
        [UnpackSystem.containerd]: await unpacker(ctdChannel, o.images.bigLayer),
        [UnpackSystem.sandboxd]: await unpacker(sbdChannel, o.images.bigLayer),
      },
      o.rounds,
      o.warmup,
    );

    const small = o.images.busybox.ref;
    await ok("ctr images pull busybox", ctr(ctd, ["images", "pull", "--plain-http", small]));
    await ok("sbx pull busybox", sbx(["pull", small]));
    let n = 0;
    const id = (p: string): string => `${p}${process.pid}-${n++}`;
    const runSamples = await alternateWithReset(
      {
        [RunSystem.ctrContainerd]: {
          once: () =>
            ok("ctr run (containerd)", ctr(ctd, ["run", "--rm", small, id("ic"), "/bin/true"])),
        },
        [RunSystem.sbx]: {
          once: () =>
            ok("sbx run --image", sbx(["run", "--rm", "--image", small, id("is"), "/bin/true"])),
        },
        [RunSystem.ctrSandboxd]: {
          once: () =>
            ok("ctr run (sandboxd)", ctr(sbd, ["run", "--rm", small, id("id"), "/bin/true"])),
        },
      },
      o.rounds,
      o.warmup,
    );
    load.end = loadavg();
    return {
      rounds: o.rounds,
      warmup: o.warmup,
      pulled: { ref, layerBytes: o.images.big.built.layers.map((l) => l.size) },
      layer: {
        files: o.images.bigLayerFiles,
        bytes: o.images.bigLayerBytes,
        compressedBytes: o.images.bigLayer.size,
      },
      pull: summed(pullSamples),
      unpack: summed(unpackSamples),
      run: summed(runSamples),
      load,
    };
  } finally {
    for (const c of channels) c.close();
  }
}

/**
 * What a puller's unpack does for one layer, timed as a whole: Prepare an active
 * snapshot, Apply the layer onto its mounts, Commit it; the reset removes it and collects
 * (so both daemons delete its files before the next round). Under a
 * lease of its own, so that no collection can take the snapshot halfway.
 */
async function unpacker(
  channel: Channel,
  layer: { mediaType: string; digest: string; size: number },
): Promise<Resettable> {
  const leaseId = `bench-unpack-${process.pid}`;
  await channel.client(Leases).create({ id: leaseId, labels: {} });
  const metadata = { "containerd-lease": leaseId };
  const snapshots = channel.client(Snapshots);
  const diff = channel.client(Diff);
  const desc = { mediaType: layer.mediaType, digest: layer.digest, size: BigInt(layer.size) };
  let n = 0;
  let committed = "";
  return {
    async once() {
      const key = `bench-unpack-${process.pid}-${n++}`;
      const { mounts } = await snapshots.prepare(
        { snapshotter: "overlayfs", key, parent: "", labels: {} },
        { metadata },
      );
      await diff.apply(
        { diff: desc, mounts, payloads: {}, syncFs: false },
        { metadata, timeoutMs: 300_000 },
      );
      committed = `${key}-committed`;
      await snapshots.commit(
        { snapshotter: "overlayfs", name: committed, key, labels: {} },
        { metadata },
      );
    },
    async reset() {
      await snapshots.remove({ snapshotter: "overlayfs", key: committed }, { metadata });
      // containerd only deletes a removed snapshot's files when its GC runs, which deletes
      // alone do not trigger; sandboxd deletes them at once. A synchronous collection (the
      // lease's delete with sync) makes both pay for the deletion before the next round:
      // freshly freed inodes make the next unpack's creates slower on this ext4.
      await channel.client(Leases).delete({ id: leaseId, sync: true });
      await channel.client(Leases).create({ id: leaseId, labels: {} });
    },
  };
}
