/**
 * The CRI benchmark (issue 12) as a person reads it: the ≤ 0.5× targets, the
 * serial calls one by one, and the concurrent batch with when its pods finished.
 */
import { CriSystem, type CriResult } from "./cri.js";
import { PREPARED_NETWORKS } from "./cri-systems.js";
import { fmt, type Section, type Target } from "./report.js";
import { ratio, type Summary } from "./stats.js";

function x(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : "n/a";
}

function target(name: string, ours?: Summary, theirs?: Summary): Target {
  const goal = "≤ 0.5×";
  if (!ours || !theirs || !ours.n || !theirs.n)
    return { name, goal, measured: "not measured", met: undefined };
  const r = ratio(ours.median, theirs.median);
  return {
    name,
    goal,
    measured: `${x(r)} (p50 ${fmt(ours.median)} vs ${fmt(theirs.median)} ms; p99 ${fmt(ours.p99)} vs ${fmt(theirs.p99)} ms)`,
    met: Number.isFinite(r) ? r <= 0.5 : undefined,
  };
}

export function criTargets(r: CriResult | undefined): Target[] {
  const s = r?.serial;
  const c = r?.concurrent;
  return [
    target(
      "CRI pod + container start, one at a time: sandboxd vs containerd 1.6's CRI (issue 12)",
      s?.[CriSystem.sandboxd]?.total,
      s?.[CriSystem.containerd]?.total,
    ),
    target(
      `CRI pod + container start, ${r?.concurrency ?? "N"} at once, per pod: sandboxd vs containerd 1.6's CRI (issue 12)`,
      c?.[CriSystem.sandboxd]?.perPod,
      c?.[CriSystem.containerd]?.perPod,
    ),
    target(
      "CRI pod + container start, one at a time, warm (prepared pod networks): sandboxd vs containerd 1.6's CRI (issue 12)",
      s?.[CriSystem.sandboxdPrepared]?.total,
      s?.[CriSystem.containerd]?.total,
    ),
    target(
      `CRI pod + container start, ${r?.concurrency ?? "N"} at once, per pod, warm (prepared pod networks): sandboxd vs containerd 1.6's CRI (issue 12)`,
      c?.[CriSystem.sandboxdPrepared]?.perPod,
      c?.[CriSystem.containerd]?.perPod,
    ),
  ];
}

export function criSections(r: CriResult): Section[] {
  const base = r.serial[CriSystem.containerd]?.total.median ?? Number.NaN;
  const cbase = r.concurrent[CriSystem.containerd]?.perPod.median ?? Number.NaN;
  const setup =
    "The runtimes are started for this section and driven by the same runtime.v1 client (@sandboxd/grpc, @sandboxd/api's generated types), as kubelet would: " +
    "RunPodSandbox (metadata, hostname, log directory, a cgroupfs parent), CreateContainer (`sleep 3600` from " +
    `\`${r.image}\`, pulled beforehand through each one's ImageService from the bench's registry), StartContainer. ` +
    `containerd 1.6 (Debian) runs its own CRI plugin with runc (containerd-shim-runc-v2) and a pause container from \`${r.pauseImage}\` (pause.c of the critest scripts, built with gcc -static at bench time), CNI bridge + host-local, ` +
    "`restrict_oom_score_adj = true` (root here cannot lower oom_score_adj; the pause container's -998 fails otherwise). " +
    "sandboxd's CRI makes each pod a sandbox on sbx-sandboxer (its proxy sandbox controller; no pause container; CNI bridge + host-local + loopback). " +
    `The warm sandboxd is the same with sbx-sandboxer's \`prepared_networks = ${PREPARED_NETWORKS}\`: each pod takes namespaces whose CNI ADD already ran, and the sandboxer makes new ones in the background (plugins at nice 19), during the rounds too; the other sandboxd (cold, the default) makes every pod's network at its RunPodSandbox. ` +
    `After every run (untimed) the running containers are counted (all must run) and the pods stopped and removed. Load average (1/5/15 min) ${r.load.start.join(" / ")} as the section started, ${r.load.end.join(" / ")} as it ended.`;
  const serialRows = Object.entries(r.serial).map(([name, s]) => [
    name,
    fmt(s.total.median),
    fmt(s.total.p99),
    fmt(s.total.min),
    fmt(s.total.max),
    x(ratio(s.total.median, base)),
    `${fmt(s.runPod.median)} / ${fmt(s.create.median)} / ${fmt(s.start.median)}`,
    `${fmt(s.runPod.p99)} / ${fmt(s.create.p99)} / ${fmt(s.start.p99)}`,
  ]);
  const concurrentRows = Object.entries(r.concurrent).map(([name, c]) => [
    name,
    fmt(c.perPod.median),
    fmt(c.perPod.p99),
    x(ratio(c.perPod.median, cbase)),
    fmt(c.batch.median),
    c.spread.map((s) => `${fmt(s.firstMs, 0)}–${fmt(s.lastMs, 0)}`).join(", "),
    c.spread.map((s) => String(s.inLast5Ms)).join(", "),
    c.spread.map((s) => fmt(s.clientLoopDelayMaxMs, 0)).join(", "),
    c.spread
      .map((s) =>
        Object.entries(s.daemonCpuMs)
          .map(([d, ms]) => `${d} ${fmt(ms, 0)} ms (${fmt((ms / s.lastMs) * 100, 0)}% of one core)`)
          .join(", "),
      )
      .join("; "),
  ]);
  return [
    {
      title: "CRI: pod + container start, one at a time",
      method:
        `${r.rounds} recorded rounds after ${r.warmup} warm-up round(s), the three runtimes alternating (order rotated every round); each sample is RunPodSandbox + CreateContainer + StartContainer of one pod. ` +
        setup,
      table: {
        header: [
          "runtime",
          "p50 ms",
          "p99 ms",
          "min ms",
          "max ms",
          "vs containerd 1.6",
          "p50 RunPodSandbox / CreateContainer / StartContainer ms",
          "p99 of each ms",
        ],
        rows: serialRows,
      },
    },
    {
      title: `CRI: ${r.concurrency} pods + containers started at once`,
      method:
        `${r.concurrentRounds} round(s) after the serial rounds, the runtimes alternating; in each, ${r.concurrency} pods are requested at the same moment, each one's three calls in sequence. ` +
        "Per pod: its time from the batch's start until its StartContainer answered (p50 and p99 over every pod of every round). " +
        "The last columns give, per round, when the first and the last pod finished (ms from the batch's start), how many pods answered within 5 ms of the last one (pods finishing all together), " +
        "and the longest the bench's own event loop was late meanwhile (a client blocked or off the CPU reads replies late, which clusters them without the runtime's doing); " +
        "the raw samples keep when each of the three calls answered, per pod. " +
        "Daemon CPU is from /proc/PID/stat over the batch (shims, conmon, runc and CNI plugins not counted): a single-threaded daemon near 100% of one core is the bottleneck. " +
        setup,
      table: {
        header: [
          "runtime",
          "per pod p50 ms",
          "per pod p99 ms",
          "vs containerd 1.6",
          "whole batch median ms",
          "first–last pod done, ms (per round)",
          "pods done in the batch's last 5 ms (per round)",
          "client event-loop delay max ms (per round)",
          "daemon CPU during the batch (per round)",
        ],
        rows: concurrentRows,
      },
    },
  ];
}
