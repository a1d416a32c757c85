/**
 * Where the time of one start-to-exit goes, through the SDK and through
 * `sbx run --rm`, on a stack of its own (sandboxd at log level debug, which
 * logs every RPC with its duration; not the stack the timed sections measure):
 *
 * - the SDK run step by step (client-side marks around each call), with the
 *   RPCs sandboxd served in each step and their server-side time;
 * - `sbx run --rm` in three phases: spawn → first RPC reaches sandboxd (Node
 *   start-up, imports, connecting), the RPCs, last answer → exit; its RPCs by
 *   method;
 * - the processes each step starts (CNI plugins, runc, conmon, ...) with their
 *   lifetimes, from a machine-wide `perf record` of fork/exec/exit;
 * - CPU time per run of sandboxd, sbx-sandboxer and the sbx process.
 *
 *   node bench/dist/profile.js [ROUNDS]   (prints the tables)
 */
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Client } from "@sandboxd/client";
import { defaultSpec } from "@sandboxd/client";
import { openBenchEnv, type BenchEnv } from "./harness.js";
import { nodeStartup, type NodeStartup } from "./node-startup.js";
import {
  Attribution,
  clockOffset,
  cpuMs,
  rpcsOfLog,
  within,
  type Window,
} from "./profile-attribution.js";
import { exeName, monotonicMs, rootOf, startProcTrace, type Traced } from "./proc-trace.js";
import { exitOf } from "./start-to-exit.js";
import { percentile, summarize, type Summary } from "./stats.js";
import { NAMESPACE, busyboxRootfs, startSbxStack, type SbxStack } from "./systems.js";

export const SdkStep = {
  newSandbox: "client.newSandbox (Store.Create, Controller.Create)",
  start: "sandbox.start (Controller.Start)",
  newContainer: "sandbox.newContainer (Containers.Create)",
  newTask: "container.newTask (Tasks.Create)",
  taskStart: "task.start (Tasks.Start)",
  exit: "until the exit (Tasks.Wait answers)",
  taskDelete: "task.delete (Tasks.Delete)",
  containerDelete: "container.delete (Containers.Delete)",
  shutdown: "sandbox.shutdown (Controller.Shutdown, Store.Delete)",
} as const;
export type SdkStep = (typeof SdkStep)[keyof typeof SdkStep];

export const SbxPhase = {
  startup: "spawn → first RPC reaches sandboxd (Node start-up, imports, connect)",
  rpcs: "first RPC reaches sandboxd → last RPC answered",
  exit: "last RPC answered → process reaped",
} as const;

export interface StepRow {
  step: string;
  /** Wall time of the step seen by the client, ms. */
  clientMs: Summary;
  /** Sum of the server-side durations of the RPCs that ran within the step, ms. */
  serverMs: Summary;
  /** RPC methods served within the step, per run (e.g. "Store/Create ×1"). */
  rpcs: string;
  /** Processes started within the step, per run, with their median lifetime. */
  processes: string;
  /** The same, by executable (full path). */
  processList: { exe: string; perRun: number; medianMs: number }[];
}

export interface ProfileResult {
  rounds: number;
  sdk: { totalMs: Summary; steps: StepRow[] };
  sbx: { totalMs: Summary; phases: StepRow[]; rpcs: string; timeline: TimelineEntry[] };
  /** Mean CPU ms per run (10 ms clock ticks), by process. */
  cpuMsPerRun: { sdk: Record<string, number>; sbx: Record<string, number> };
  /** Why there are no process columns (perf missing or refused). */
  traceSkipped?: string;
  /** What a Node CLI pays before its first call, measured apart. */
  nodeStartup: NodeStartup;
}

/** One RPC or process of the median `sbx run --rm`, relative to its spawn. */
export interface TimelineEntry {
  atMs: number;
  ms: number;
  what: string;
}

/** One SDK run (as sdkRun in start-to-exit.ts) with a mark after every step. */
async function sdkSteps(
  client: Client,
  id: string,
  rootfs: string,
): Promise<{ step: SdkStep; window: Window }[]> {
  const out: { step: SdkStep; window: Window }[] = [];
  let last = monotonicMs();
  const mark = (step: SdkStep): void => {
    const now = monotonicMs();
    out.push({ step, window: [last, now] });
    last = now;
  };
  const podSpec = defaultSpec({ id, namespace: client.namespace, hostname: id });
  delete podSpec.process;
  delete podSpec.root;
  const sandbox = await client.newSandbox(id, { spec: podSpec });
  mark(SdkStep.newSandbox);
  await sandbox.start();
  mark(SdkStep.start);
  const container = await sandbox.newContainer(id, {
    spec: defaultSpec({
      id,
      namespace: client.namespace,
      args: ["/bin/true"],
      rootfs,
      hostname: id,
    }),
  });
  mark(SdkStep.newContainer);
  const task = await container.newTask();
  mark(SdkStep.newTask);
  const exited = task.wait();
  exited.catch(() => undefined);
  await task.start();
  mark(SdkStep.taskStart);
  const { exitStatus } = await exited;
  mark(SdkStep.exit);
  if (exitStatus !== 0) throw new Error(`profile: SDK run exited with ${exitStatus}`);
  await task.delete();
  mark(SdkStep.taskDelete);
  await container.delete({ force: true });
  mark(SdkStep.containerDelete);
  await sandbox.shutdown({ force: true });
  mark(SdkStep.shutdown);
  return out;
}

export async function benchProfile(o: {
  env: BenchEnv;
  rounds: number;
  rootfs: string;
  sbxBin: string;
}): Promise<ProfileResult> {
  const stack: SbxStack = await startSbxStack(o.env, { name: "profile", logLevel: "debug" });
  let trace: Awaited<ReturnType<typeof startProcTrace>> | undefined;
  let traceSkipped: string | undefined;
  try {
    trace = await startProcTrace(join(o.env.dir, "perf.data"));
    const t = trace;
    o.env.defer("stop perf", () => Promise.resolve(t.kill()));
  } catch (err) {
    traceSkipped = err instanceof Error ? err.message : String(err);
  }
  const sandboxdPid = stack.sandboxd.process.pid ?? 0;
  const sandboxerPid = stack.sandboxer.pid;
  const sdkRuns: { step: SdkStep; window: Window }[][] = [];
  const sbxRuns: { window: Window }[] = [];
  const cpu = {
    sdk: { sandboxd: 0, "sbx-sandboxer": 0, "bench (SDK)": 0 },
    sbx: { sandboxd: 0, "sbx-sandboxer": 0, "sbx process": 0 },
  };
  let n = 0;
  // One unrecorded round each first (caches, JIT), then SDK and sbx alternating.
  for (let round = -1; round < o.rounds; round++) {
    const c0 = [await cpuMs(sandboxdPid), await cpuMs(sandboxerPid), await cpuMs("self")];
    const steps = await sdkSteps(stack.client, `p${process.pid}-${n++}`, o.rootfs);
    const c1 = [await cpuMs(sandboxdPid), await cpuMs(sandboxerPid), await cpuMs("self")];
    const kids0 = await cpuMs("self", true);
    const t0 = monotonicMs();
    const r = await exitOf(o.sbxBin, [
      "--address",
      stack.sandboxd.address,
      "-n",
      NAMESPACE,
      "run",
      "--rm",
      "--rootfs",
      o.rootfs,
      `q${process.pid}-${n++}`,
      "/bin/true",
    ]);
    const t1 = monotonicMs();
    if (r.code !== 0) throw new Error(`profile: sbx run --rm exited with ${r.code}: ${r.stderr}`);
    const c2 = [await cpuMs(sandboxdPid), await cpuMs(sandboxerPid), await cpuMs("self", true)];
    if (round < 0) continue;
    sdkRuns.push(steps);
    sbxRuns.push({ window: [t0, t1] });
    cpu.sdk.sandboxd += c1[0]! - c0[0]!;
    cpu.sdk["sbx-sandboxer"] += c1[1]! - c0[1]!;
    cpu.sdk["bench (SDK)"] += c1[2]! - c0[2]!;
    cpu.sbx.sandboxd += c2[0]! - c1[0]!;
    cpu.sbx["sbx-sandboxer"] += c2[1]! - c1[1]!;
    cpu.sbx["sbx process"] += c2[2]! - kids0;
  }
  let traced: Traced | undefined;
  if (trace) {
    try {
      traced = await trace.stop();
    } catch (err) {
      traceSkipped = err instanceof Error ? err.message : String(err);
    }
  }
  const offset = clockOffset();
  // Give sandboxd a moment to write its last lines.
  await new Promise((r) => setTimeout(r, 100));
  const rpcs = rpcsOfLog(await stack.sandboxd.log(), offset);
  const roots = new Set([sandboxdPid, sandboxerPid]);
  const daemonProcs = traced
    ? [...traced.procs.values()].filter((p) => rootOf(traced.parents, p.pid, roots) !== undefined)
    : [];

  const sdk = new Attribution();
  const clientMs = new Map<string, number[]>();
  const totals: number[] = [];
  for (const run of sdkRuns) {
    for (const { step, window } of run) {
      sdk.add(step, window, rpcs, daemonProcs);
      (clientMs.get(step) ?? clientMs.set(step, []).get(step)!).push(window[1] - window[0]);
    }
    totals.push(run[run.length - 1]!.window[1] - run[0]!.window[0]);
  }
  const sdkRows = Object.values(SdkStep).map((s) =>
    sdk.row(s, clientMs.get(s) ?? [], sdkRuns.length, traced !== undefined),
  );

  const sbx = new Attribution();
  const phaseMs = new Map<string, number[]>();
  const sbxTotals: number[] = [];
  const timelines: TimelineEntry[][] = [];
  const allSbxRpcs = new Map<string, number>();
  for (const { window } of sbxRuns) {
    const inside = rpcs.filter((r) => within(r, window));
    for (const r of inside) allSbxRpcs.set(r.method, (allSbxRpcs.get(r.method) ?? 0) + 1);
    const first = Math.min(...inside.map((r) => r.startMs));
    const last = Math.max(...inside.map((r) => r.endMs));
    const phases: [string, Window][] = [
      [SbxPhase.startup, [window[0], first]],
      [SbxPhase.rpcs, [first, last]],
      [SbxPhase.exit, [last, window[1]]],
    ];
    // The sbx process's own children count too (its launcher is a shell that execs sbx-client).
    const procs = traced
      ? [...traced.procs.values()].filter(
          (p) =>
            p.startMs >= window[0] &&
            p.startMs <= window[1] &&
            (rootOf(traced.parents, p.pid, roots) !== undefined ||
              rootOf(traced.parents, p.pid, new Set([process.pid])) !== undefined),
        )
      : [];
    timelines.push(
      [
        ...inside.map((r) => ({
          atMs: r.startMs - window[0],
          ms: r.endMs - r.startMs,
          what: r.method,
        })),
        ...procs.map((p) => ({
          atMs: p.startMs - window[0],
          ms: (p.endMs ?? window[1]) - p.startMs,
          what: `process ${exeName(p.exe)}`,
        })),
      ].sort((a, b) => a.atMs - b.atMs),
    );
    for (const [phase, w] of phases) {
      sbx.add(phase, w, rpcs, procs);
      (phaseMs.get(phase) ?? phaseMs.set(phase, []).get(phase)!).push(w[1] - w[0]);
    }
    sbxTotals.push(window[1] - window[0]);
  }
  const sbxRows = Object.values(SbxPhase).map((p) =>
    sbx.row(p, phaseMs.get(p) ?? [], sbxRuns.length, traced !== undefined),
  );
  const per = (v: number): number => Math.round(v / Math.max(1, sbxRuns.length));
  const medianRun = sbxTotals.indexOf(percentile(sbxTotals, 0.5));
  return {
    rounds: o.rounds,
    sdk: { totalMs: summarize(totals), steps: sdkRows },
    sbx: {
      totalMs: summarize(sbxTotals),
      phases: sbxRows,
      rpcs: [...allSbxRpcs]
        .map(([m, c]) => `${m} ×${(c / Math.max(1, sbxRuns.length)).toFixed(0)}`)
        .join(", "),
      timeline: timelines[medianRun] ?? [],
    },
    cpuMsPerRun: {
      sdk: Object.fromEntries(Object.entries(cpu.sdk).map(([k, v]) => [k, per(v)])),
      sbx: Object.fromEntries(Object.entries(cpu.sbx).map(([k, v]) => [k, per(v)])),
    },
    ...(traceSkipped === undefined ? {} : { traceSkipped }),
    nodeStartup: await nodeStartup(o.rounds),
  };
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 5);
  const env = await openBenchEnv();
  try {
    const rootfs = await busyboxRootfs(env);
    const sbxBin = join(fileURLToPath(new URL("../..", import.meta.url)), "packages/cli/bin/sbx");
    const r = await benchProfile({ env, rounds, rootfs, sbxBin });
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  } finally {
    for (const l of await env.close()) process.stderr.write(`removed at the end: ${l}\n`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
