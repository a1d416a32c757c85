/**
 * The profile (profile.ts) as sections of docs/benchmarks.md: the SDK run
 * step by step, `sbx run --rm` by phase, the timeline of its median run, and
 * the CPU each process spends per run.
 */
import type { Panel } from "./chart.js";
import { SdkStep, type ProfileResult, type StepRow } from "./profile.js";
import { exeName } from "./proc-trace.js";
import { fmt, type Section } from "./report.js";

const header = [
  "step",
  "median ms",
  "p99 ms",
  "sandboxd ms (server side)",
  "RPCs per run",
  "processes started per run (median lifetime)",
];

function rows(steps: readonly StepRow[]): (string | number)[][] {
  return steps.map((s) => [
    s.step,
    fmt(s.clientMs.median),
    fmt(s.clientMs.p99),
    fmt(s.serverMs.median),
    s.rpcs,
    s.processes,
  ]);
}

function cpuText(cpu: Record<string, number>): string {
  return Object.entries(cpu)
    .map(([k, v]) => `${k} ${v} ms`)
    .join(", ");
}

/** The median ms of the steps whose name starts with one of `prefixes`. */
function stepsMs(p: ProfileResult, steps: readonly string[]): number {
  return p.sdk.steps
    .filter((s) => steps.includes(s.step))
    .reduce((a, s) => a + s.clientMs.median, 0);
}

/** Processes of the SDK run by kind: how many per run and their summed median lifetimes. */
function processKinds(p: ProfileResult): string {
  const kinds = new Map<string, { n: number; ms: number }>();
  for (const step of p.sdk.steps) {
    for (const proc of step.processList) {
      const name = exeName(proc.exe);
      const kind = proc.exe.includes("/cni/")
        ? "CNI plugins"
        : name === "runc" || name === "runc init"
          ? "runc (and runc init)"
          : name === "conmon"
            ? "conmon"
            : name === "true"
              ? undefined
              : "other helpers (unshare/hostname, umount, mkfifo, ...)";
      if (kind === undefined) continue;
      const k = kinds.get(kind) ?? { n: 0, ms: 0 };
      k.n += proc.perRun;
      k.ms += proc.perRun * (Number.isFinite(proc.medianMs) ? proc.medianMs : 0);
      kinds.set(kind, k);
    }
  }
  return [...kinds]
    .map(([kind, k]) => `${kind}: ${fmt(k.n, 0)} per run, ${fmt(k.ms)} ms of lifetimes`)
    .join("; ");
}

export function profileSections(p: ProfileResult): Section[] {
  const traced =
    p.traceSkipped === undefined
      ? "Processes come from a machine-wide `perf record` of the scheduler's fork/exec/exit tracepoints (no ptrace: the daemons run at full speed), counted in the step during which they were forked, descendants of sandboxd and sbx-sandboxer only; `runc init` is runc re-executing itself, `true` is the container's process (from runc init's fork to its exit). "
      : `Processes were not traced: ${p.traceSkipped}. `;
  const pod = stepsMs(p, [SdkStep.start, SdkStep.shutdown]);
  const container = stepsMs(p, [
    SdkStep.newTask,
    SdkStep.taskStart,
    SdkStep.exit,
    SdkStep.taskDelete,
  ]);
  const sdk: Section = {
    title: "Where the time goes: the SDK, step by step",
    method:
      `A profile on a stack of its own (sandboxd at log level debug, which logs every RPC with its duration; sbx-sandboxer as the proxy controller, with CNI), ` +
      `${p.rounds} rounds after one warm-up, the SDK and \`sbx run --rm\` alternating; not the stack the sections above time, and the debug log costs a little. ` +
      "Each step is the client's wall time between two marks; the server side is the sum of the durations sandboxd logged for the RPCs that ran within the step (Tasks.Wait spans steps and is left out). " +
      traced,
    table: { header, rows: rows(p.sdk.steps) },
    notes: [
      `Whole SDK run: median ${fmt(p.sdk.totalMs.median)} ms (p99 ${fmt(p.sdk.totalMs.p99)} ms). ` +
        `The pod itself (Controller.Start and the shutdown: namespaces, cgroup, CNI ADD and DEL) takes ${fmt(pod)} ms of it, ` +
        `the container (task create, start, exit, delete: conmon and runc) ${fmt(container)} ms. runc's and ctr's containers above get no CNI network.`,
      `CPU per run (mean, from /proc/PID/stat, 10 ms ticks): ${cpuText(p.cpuMsPerRun.sdk)}.`,
      ...(p.traceSkipped === undefined
        ? [
            `Processes the daemons start per SDK run, by kind (lifetimes summed; CNI plugins and the helpers run one after another, runc mostly under conmon): ${processKinds(p)}.`,
          ]
        : []),
    ],
  };
  const sbx: Section = {
    title: "Where the time goes: `sbx run --rm`",
    method:
      "The same stack and rounds. The phases split each run at the first RPC sandboxd received from it and the last one it answered (from sandboxd's log); " +
      "the RPCs and processes are counted as above, processes of the sbx process itself included (its launcher is a shell script that execs sbx-client, which hands the command to sandboxd; in the Node CLI, Node).",
    table: { header: ["phase", ...header.slice(1)], rows: rows(p.sbx.phases) },
    notes: [
      `Whole \`sbx run --rm\`: median ${fmt(p.sbx.totalMs.median)} ms (p99 ${fmt(p.sbx.totalMs.p99)} ms); its RPCs: ${p.sbx.rpcs}.`,
      `CPU per run (mean): ${cpuText(p.cpuMsPerRun.sbx)}.`,
      `Node start-up measured apart, ${p.rounds} times: \`node -e 0\` takes ${fmt(p.nodeStartup.bareMs.median)} ms (spawn to exit); ` +
        `\`sbx --version\` through its launcher (Node, the launcher, sbx's start-up from its snapshot, else its bundle, when current; no RPC) ${fmt(p.nodeStartup.importMs.median)} ms, loading ${p.nodeStartup.modules} modules (files and node: builtins; none from the snapshot).`,
    ],
  };
  const timeline: Section = {
    title: "Timeline of the median `sbx run --rm`",
    method:
      "Every RPC sandboxd served for it and every process the run started (by sbx, sandboxd or sbx-sandboxer), from the spawn of sbx.",
    table: {
      header: ["starts at ms", "lasts ms", "what"],
      rows: p.sbx.timeline.map((t) => [fmt(t.atMs), fmt(t.ms), t.what]),
    },
  };
  return [sdk, sbx, timeline];
}

export function profilePanel(p: ProfileResult): Panel {
  return {
    title: "SDK start-to-exit by step",
    unit: "ms (median)",
    bars: p.sdk.steps.map((s) => ({
      system: s.step.replace(/ \(.*$/, ""),
      value: s.clientMs.median,
      p99: s.clientMs.p99,
      group: "sandboxd / sbx-sandboxer / @sandboxd",
    })),
  };
}
