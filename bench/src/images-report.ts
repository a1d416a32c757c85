/**
 * The image benchmarks (issue 11) as a person reads them: targets with their
 * measured figures and one table per measurement, every row against
 * containerd 1.6 in the same run.
 */
import { PullSystem, RunSystem, UnpackSystem, type ImagesResult, type Timed } from "./images.js";
import { fmt, type Section, type Target } from "./report.js";
import { ratio } from "./stats.js";

const MiB = 1024 * 1024;

function x(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : "n/a";
}

function versus(
  name: string,
  goal: string,
  limit: number,
  ours: Timed | undefined,
  theirs: Timed | undefined,
): Target {
  if (!ours || !theirs) return { name, goal, measured: "not measured", met: undefined };
  const r = ratio(ours.summary.median, theirs.summary.median);
  return {
    name,
    goal,
    measured: `${x(r)} (${fmt(ours.summary.median)} ms vs ${fmt(theirs.summary.median)} ms, medians)`,
    met: Number.isFinite(r) ? r <= limit : undefined,
  };
}

export function imageTargets(r: ImagesResult | undefined): Target[] {
  return [
    versus(
      "pull + unpack of a local-registry image: `sbx pull` vs `ctr images pull` (containerd 1.6) (issue 11)",
      "≤ 1.0×",
      1,
      r?.pull[PullSystem.sbx],
      r?.pull[PullSystem.ctrContainerd],
    ),
    versus(
      `unpack of a ${r ? fmt(r.layer.bytes / MiB, 0) : "~20"} MB, ${r?.layer.files ?? "~9,000"}-file layer vs containerd 1.6 (issue 11)`,
      "≤ 1.0×",
      1,
      r?.unpack[UnpackSystem.sandboxd],
      r?.unpack[UnpackSystem.containerd],
    ),
  ];
}

function table(results: Record<string, Timed>, base: string): (string | number)[][] {
  const b = results[base]?.summary.median ?? Number.NaN;
  return Object.entries(results).map(([name, t]) => [
    name,
    fmt(t.summary.median),
    fmt(t.summary.p99),
    fmt(t.summary.min),
    fmt(t.summary.max),
    x(ratio(t.summary.median, b)),
  ]);
}

const header = ["system", "median ms", "p99 ms", "min ms", "max ms", "vs containerd 1.6"];

export function imageSections(r: ImagesResult): Section[] {
  const rounds =
    `${r.rounds} recorded rounds after ${r.warmup} warm-up round(s); each round runs every system once, the order rotated every round. ` +
    `Load average (1/5/15 min) ${r.load.start.join(" / ")} as the section started, ${r.load.end.join(" / ")} as it ended.`;
  const layers = r.pulled.layerBytes.map((b) => `${fmt(b / MiB, 1)} MB`).join(" + ");
  return [
    {
      title: "Image pull + unpack from a registry on loopback",
      method:
        `\`${r.pulled.ref}\`: two gzip layers (${layers} compressed; busybox, and ${r.layer.files} files of ${fmt(r.layer.bytes / MiB, 1)} MB), from Debian's docker-registry on 127.0.0.1, started by the bench. ` +
        "Every pull is cold: after it (untimed) the image is removed with a synchronous garbage collection, and the big layer must be gone from the daemon's content store before the next round. " +
        "Times are wall clock from spawning the command to its exit: resolve, fetch, unpack into overlayfs snapshots. " +
        "`ctr images pull` (Debian's ctr 1.6) pulls on the client side and writes through the daemon's content, snapshot and diff services; `sbx pull` asks sandboxd to pull. " +
        rounds,
      table: { header, rows: table(r.pull, PullSystem.ctrContainerd) },
    },
    {
      title: `Unpack of one ${fmt(r.layer.bytes / MiB, 0)} MB, ${r.layer.files}-file layer`,
      method:
        `The big layer (${fmt(r.layer.compressedBytes / MiB, 1)} MB gzip, already in the content store), applied as a puller does: snapshots.Prepare (no parent), diff.Apply onto its mounts, snapshots.Commit, ` +
        "timed as a whole through the same gRPC client (@sandboxd/grpc) on both daemons, under a lease; after each run (untimed) the committed snapshot is removed and a synchronous collection deletes its files on both daemons (containerd defers that to its GC, and freshly freed inodes make the next run's file creates slower on this machine's ext4, so both must pay it alike). " +
        "Issue 11 quotes about 2.3 s for containerd on a quiet machine of this kind. " +
        rounds,
      table: { header, rows: table(r.unpack, UnpackSystem.containerd) },
    },
    {
      title: "Start to exit of /bin/true from an image that is present",
      method:
        "The busybox image pulled beforehand into both daemons. `ctr run --rm IMAGE ID /bin/true` (Debian's ctr 1.6, runc shim) against containerd 1.6 and against sandboxd, " +
        "`sbx run --rm --image IMAGE ID /bin/true` against sandboxd (a pod per container, sbx-sandboxer as proxy sandbox controller). " +
        "Each run prepares a snapshot on the image, runs the container and removes both; wall clock from spawn to exit 0. " +
        rounds,
      table: { header, rows: table(r.run, RunSystem.ctrContainerd) },
    },
  ];
}
