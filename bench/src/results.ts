/**
 * From measurements to what a person reads: the targets (each with its
 * measured figure; missed ones are named), one section per measurement, and
 * the chart's panels.
 */
import { cliSection, cliTargets, type CliCallResult } from "./cli-call.js";
import { ConcurrentSystem, type ConcurrentResult } from "./concurrent.js";
import type { MemoryResult, MemorySeries } from "./memory.js";
import type { ProfileResult } from "./profile.js";
import { profileSections } from "./profile-report.js";
import type { RecoveryResult } from "./recovery.js";
import type { CriResult } from "./cri.js";
import { criSections, criTargets } from "./cri-report.js";
import type { ImagesResult } from "./images.js";
import { imageSections, imageTargets } from "./images-report.js";
import { fmt, type Section, type Target } from "./report.js";
import { ratio, type Summary } from "./stats.js";
import { System, type StartToExitResult } from "./start-to-exit.js";
import type { Result as TtrpcResult } from "./ttrpc.js";

export interface BenchResults {
  cli?: CliCallResult;
  startToExit?: StartToExitResult;
  concurrent?: ConcurrentResult;
  memory?: MemoryResult;
  ttrpc?: TtrpcResult[];
  recovery?: RecoveryResult;
  profile?: ProfileResult;
  images?: ImagesResult;
  cri?: CriResult;
  /** Section name → why it failed. */
  failed: Record<string, string>;
  /** What the final sweep had to remove (leaks of the systems, or of a failed section). */
  leftovers: string[];
}

export const MB = 1024;

function x(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : "n/a";
}

function target(
  name: string,
  goal: string,
  value: number | undefined,
  limit: number,
  measured: string,
): Target {
  if (value === undefined || !Number.isFinite(value)) {
    return { name, goal, measured: measured || "not measured", met: undefined };
  }
  return { name, goal, measured, met: value <= limit };
}

export function targets(r: BenchResults): Target[] {
  const out: Target[] = [...cliTargets(r.cli)];
  const st = r.startToExit?.results;
  const med = (s: System): number | undefined => st?.[s]?.summary.median;
  const pair = (a: System, b: System): { value?: number; text: string } => {
    const ma = med(a);
    const mb = med(b);
    if (ma === undefined || mb === undefined) return { text: r.startToExit?.skipped[a] ?? "" };
    const v = ratio(ma, mb);
    return { value: v, text: `${x(v)} (${fmt(ma)} ms vs ${fmt(mb)} ms, medians)` };
  };
  // Issue 13's goals. ctr's and runc's containers get an empty network namespace and no
  // seccomp filter; the like-for-like rows are judged, the defaults shown beside them.
  const sdk = pair(System.sdkNone, System.runc);
  out.push(
    target(
      "SDK start-to-exit, pod with no network, vs raw `runc run`",
      "≤ 2.0×",
      sdk.value,
      2.0,
      sdk.text,
    ),
  );
  const sbxNone = pair(System.sbxNone, System.ctrContainerd);
  out.push(
    target(
      "`sbx run --rm --net none` vs `ctr run --rm` (containerd 1.6)",
      "≤ 0.8×",
      sbxNone.value,
      0.8,
      sbxNone.text,
    ),
  );
  const sbx = pair(System.sbx, System.ctrContainerd);
  out.push(
    target(
      "`sbx run --rm` (CNI pod) vs `ctr run --rm` (containerd 1.6)",
      "≤ 1.0×",
      sbx.value,
      1.0,
      sbx.text,
    ),
  );
  const ctr = pair(System.ctrSandboxd, System.ctrContainerd);
  out.push(
    target("`ctr run --rm`: sandboxd vs containerd 1.6", "≤ 1.0×", ctr.value, 1.0, ctr.text),
  );
  const m = r.memory;
  const perPod = m?.sbx ? m.sbx.perPodPssKiB / MB : undefined;
  out.push(
    target(
      `runtime PSS per pod at ${m?.pods ?? "N"} pods (sandboxd + sandboxer + conmons)`,
      "≤ 1 MB",
      perPod,
      1,
      m?.sbx
        ? `${fmt(perPod ?? NaN, 2)} MB (increment per extra pod ${fmt(m.sbx.incrementPerPodPssKiB / MB, 2)} MB; containerd + runc shims: ${fmt(m.containerd.perPodPssKiB / MB, 2)} MB)`
        : (m?.skipped ?? ""),
    ),
  );
  const rec = r.recovery;
  const sbxRec = rec?.sandboxer.allAnswerMs.median;
  out.push(
    target(
      `sbx-sandboxer recovery after kill -9, ${rec?.pods ?? "N"} pods`,
      "≤ 1 s",
      sbxRec === undefined ? undefined : sbxRec / 1000,
      1,
      rec
        ? `${fmt(sbxRec ?? NaN, 0)} ms (median; p99 ${fmt(rec.sandboxer.allAnswerMs.p99, 0)} ms)`
        : "",
    ),
  );
  const sdRec = rec?.sandboxd?.allKnownMs.median;
  out.push(
    target(
      `sandboxd recovery after kill -9, ${rec?.pods ?? "N"} pods`,
      "≤ 1 s",
      sdRec === undefined ? undefined : sdRec / 1000,
      1,
      rec?.sandboxd
        ? `${fmt(sdRec ?? NaN, 0)} ms (median; p99 ${fmt(rec.sandboxd.allKnownMs.p99, 0)} ms)`
        : (rec?.skipped ?? ""),
    ),
  );
  out.push(...imageTargets(r.images), ...criTargets(r.cri));
  return out;
}

function summaryCells(s: Summary): string[] {
  return [fmt(s.median), fmt(s.p99), fmt(s.min), fmt(s.max)];
}

function startSection(r: StartToExitResult): Section {
  const runc = r.results[System.runc]?.summary.median ?? NaN;
  const ctr = r.results[System.ctrContainerd]?.summary.median ?? NaN;
  const rows: (string | number)[][] = [];
  for (const name of Object.values(System)) {
    const res = r.results[name];
    if (!res) {
      rows.push([
        name,
        "—",
        "—",
        "—",
        "—",
        "—",
        "—",
        "—",
        `not measured: ${r.skipped[name] ?? "?"}`,
      ]);
      continue;
    }
    rows.push([
      name,
      ...summaryCells(res.summary),
      x(ratio(res.summary.median, runc)),
      x(ratio(res.summary.median, ctr)),
      String(res.forks),
      "",
    ]);
  }
  return {
    title: "Start to exit: one container running /bin/true",
    method:
      `${r.rounds} recorded rounds after ${r.warmup} warm-up rounds; each round runs every system once, the order rotated every round. ` +
      "sandboxd reaches sbx-sandboxer as its proxy sandbox controller `sbx` (the sandboxer runs as a node service; the namespace's default sandboxer), except in the `shim controller` row, where sandboxd runs `containerd-shim-sbx-v1 start` for each pod. " +
      "Every pod gets a CNI network (bridge + host-local + loopback), as a pod does by default, except in the `--net none` and `no network` rows (loopback only); runc's and ctr's containers get an empty network namespace. " +
      "sbx and the SDK apply containerd's RuntimeDefault seccomp profile by default, as nerdctl and podman do; `ctr run` and `runc spec`'s bundle apply none, and runc compiles the filter at every create: the `no seccomp` row is `runc run`'s own work. " +
      "Times are wall clock from spawning the command (or, for the SDK, from the first call) to its exit with status 0, removal included " +
      "(`runc run` deletes its container; `--rm`; the SDK deletes task, container and sandbox). " +
      "`processes` is the fewest processes the machine started during one run over the rounds (/proc/stat counts the whole machine's, so other work adds to it), the command itself included; the profile below names them.",
    table: {
      header: [
        "system",
        "median ms",
        "p99 ms",
        "min ms",
        "max ms",
        "vs runc",
        "vs ctr → containerd",
        "processes",
        "",
      ],
      rows,
    },
  };
}

function concurrentSection(r: ConcurrentResult): Section {
  const base = r.results[ConcurrentSystem.containerd]?.summary.median ?? NaN;
  const rows: (string | number)[][] = [];
  for (const name of Object.values(ConcurrentSystem)) {
    const res = r.results[name];
    if (!res) {
      rows.push([name, "—", "—", "—", "—", "—", "—", `not measured: ${r.skipped[name] ?? "?"}`]);
      continue;
    }
    const cpu = Object.entries(r.daemonCpuMs?.[name] ?? {})
      .map(
        ([d, ms]) =>
          `${d} ${fmt(ms, 0)} ms (${fmt((ms / res.summary.median) * 100, 0)}% of one core)`,
      )
      .join(", ");
    rows.push([name, ...summaryCells(res.summary), x(ratio(res.summary.median, base)), cpu, ""]);
  }
  return {
    title: `${r.pods} pods started concurrently`,
    method:
      `${r.pods} pods (one \`sleep\` container each) requested at once; the time until every start call returned (every container runs, checked by listing the tasks afterwards). ` +
      `${r.rounds} round(s), the systems alternating (order rotated), each starting on an empty machine: the pods of one system are removed before the next starts (not timed). ` +
      "The daemons' CPU time during the timed start comes from /proc/PID/stat (containerd's shims and the CLI processes not counted); a single-threaded daemon near 100% of one core is the bottleneck.",
    table: {
      header: [
        "system",
        "median ms",
        "p99 ms",
        "min ms",
        "max ms",
        "vs containerd",
        "daemon CPU during the start (median)",
        "",
      ],
      rows,
    },
  };
}

function memRows(name: string, s: MemorySeries): (string | number)[][] {
  const parts = Object.entries(s.full.parts)
    .filter(([, p]) => p.processes > 0)
    .map(
      ([k, p]) =>
        `${k} ×${p.processes}: ${fmt(p.pssKiB / MB, 1)} MB PSS (${fmt(p.rssKiB / MB, 1)} MB RSS)`,
    )
    .join("; ");
  return [
    [
      name,
      fmt(s.idle.totalPssKiB / MB, 1),
      fmt(s.half.totalPssKiB / MB, 1),
      fmt(s.full.totalPssKiB / MB, 1),
      fmt(s.perPodPssKiB / MB, 2),
      fmt(s.incrementPerPodPssKiB / MB, 2),
      parts,
    ],
  ];
}

function memorySection(r: MemoryResult): Section {
  const half = Math.floor(r.pods / 2);
  const rows = [
    ...(r.sbx
      ? memRows("sandboxd + sbx-sandboxer + conmons", r.sbx)
      : [
          [
            "sandboxd + sbx-sandboxer + conmons",
            "—",
            "—",
            "—",
            "—",
            "—",
            `not measured: ${r.skipped ?? "?"}`,
          ],
        ]),
    ...(r.inProcess
      ? memRows("sandboxd (sbx-sandboxer in process) + conmons, fresh", r.inProcess)
      : []),
    ...memRows("containerd 1.6 + containerd-shim-runc-v2s", r.containerd),
  ];
  return {
    title: `Memory of the runtime processes at ${r.pods} pods`,
    method:
      "PSS (/proc/PID/smaps_rollup; shared pages split between the processes mapping them) of the runtime's processes, not of the workloads, " +
      `with no pods, ${half} and ${r.pods} pods (one \`sleep\` container each); each point is the median of three samples after the pods settled. ` +
      `Per pod = total at ${r.pods} / ${r.pods}; increment = (total at ${r.pods} − total at ${half}) / ${r.pods - half}, what one more pod costs. ` +
      "The daemons are those the sections before used (idle = after the start-to-exit and concurrent sections made and removed their pods), as a daemon that has been running a while" +
      (r.freshPssKiB
        ? `; right after they started they had ${Object.entries(r.freshPssKiB)
            .map(([k, v]) => `${k} ${fmt(v / MB, 1)} MB`)
            .join(", ")} PSS.`
        : ".") +
      (r.inProcess
        ? " The in-process row is a sandboxd started for it with `[sandbox] in_process` (sbx-sandboxer inside sandboxd's process), idle = right after its start."
        : ""),
    notes: [
      "Both ways (sbx-sandboxer as a process of its own, or inside sandboxd) on fresh daemons, private memory beside PSS, and where the daemons' memory goes: [benchmarks-memory.md](benchmarks-memory.md).",
    ],
    table: {
      header: [
        "runtime processes",
        "idle MB",
        `${half} pods MB`,
        `${r.pods} pods MB`,
        "per pod MB",
        "increment per pod MB",
        `at ${r.pods} pods`,
      ],
      rows,
    },
  };
}

function ttrpcSection(results: TtrpcResult[], durationMs: number): Section {
  const go = (c: number): number =>
    results.find((t) => t.server === "go-runc-shim" && t.concurrency === c && !t.skipped)
      ?.callsPerSec ?? Number.NaN;
  return {
    title: "ttrpc unary round trips",
    method:
      `@sandboxd/ttrpc's client calling a small unary method for ${durationMs} ms per scenario (after a warm-up): ` +
      "against our own server (on the client's event loop, and in a worker thread: its own event loop, as another process would have) " +
      "and against Go's ttrpc in Debian's containerd-shim-runc-v2 (Task.Connect). " +
      "The ratio compares calls/s with the Go shim's at the same number of calls in flight (higher is better).",
    table: {
      header: ["scenario", "method", "calls/s", "p50 ms", "p99 ms", "vs go runc shim"],
      rows: results.map((t) =>
        t.skipped !== undefined
          ? [t.name, t.method, `skipped: ${t.skipped}`, "", "", ""]
          : [
              t.name,
              t.method,
              String(t.callsPerSec),
              fmt(t.p50Ms, 3),
              fmt(t.p99Ms, 3),
              x(ratio(t.callsPerSec, go(t.concurrency))),
            ],
      ),
    },
  };
}

function recoverySection(r: RecoveryResult): Section {
  const rows: (string | number)[][] = [
    ["sbx-sandboxer: exec → every pod answers Status", ...summaryCells(r.sandboxer.allAnswerMs)],
    [
      "sbx-sandboxer: its own recovery_ms (records loaded and checked)",
      ...summaryCells(r.sandboxer.ownMs),
    ],
    r.sandboxd
      ? [
          "sandboxd: exec → every task known (Tasks.Get RUNNING)",
          ...summaryCells(r.sandboxd.allKnownMs),
        ]
      : ["sandboxd", "—", "—", "—", `not measured: ${r.skipped ?? "?"}`],
  ];
  return {
    title: `Recovery after kill -9 with ${r.pods} pods`,
    method:
      `${r.pods} pods (one \`sleep\` container each, made through ${r.via === "sandboxd" ? "sandboxd's Sandbox API, sandboxer in proxy mode" : "the sandboxer's own API"}); ` +
      `${r.rounds} rounds of SIGKILL and restart on the same state for each process. The time runs from just before the new process is spawned ` +
      "(Node's start-up included) until every pod or task answers; the socket is polled every 2 ms and every pod asked again every 2 ms until it answers.",
    table: { header: ["what", "median ms", "p99 ms", "min ms", "max ms"], rows },
  };
}

export function sections(r: BenchResults, ttrpcDurationMs: number): Section[] {
  const out: Section[] = [];
  if (r.cli) out.push(cliSection(r.cli));
  if (r.startToExit) out.push(startSection(r.startToExit));
  if (r.concurrent) out.push(concurrentSection(r.concurrent));
  if (r.memory) out.push(memorySection(r.memory));
  if (r.ttrpc) out.push(ttrpcSection(r.ttrpc, ttrpcDurationMs));
  if (r.recovery) out.push(recoverySection(r.recovery));
  if (r.images) out.push(...imageSections(r.images));
  if (r.cri) out.push(...criSections(r.cri));
  if (r.profile) out.push(...profileSections(r.profile));
  return out;
}
