/**
 * Issue 12's CRI benchmark: pod + container start as kubelet asks for it
 * (RunPodSandbox, CreateContainer, StartContainer of a `sleep` container from
 * an image already pulled), through sandboxd's CRI and containerd 1.6's own
 * CRI plugin, started for this section and driven by the same runtime.v1
 * client, in the same rounds (order rotated every round):
 *
 * - serial: one pod at a time, each request timed (p50, p99 of the sum and of each call);
 * - concurrent: N pods requested at once; each pod's own time from the batch's start to its
 *   StartContainer answer, and when each one finished, so that a batch in which every pod
 *   finishes at the same moment (one lock, one batch of work) shows as such.
 *
 * After every run (untimed) the running containers are counted and the pods stopped and removed.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { ContainerState } from "@sandboxd/api/cri/runtime/v1/api_pb";
import type { Registry } from "@sandboxd/testing";
import type { BenchImage } from "./bench-images.js";
import {
  CriSystem,
  PREPARED_NETWORKS,
  startContainerdCri,
  startSandboxdCri,
  type CriRuntime,
} from "./cri-systems.js";
import type { BenchEnv } from "./harness.js";
import { cpuMs } from "./profile-attribution.js";
import { alternateWithReset, loadavg } from "./rounds.js";
import { summarize, type Summary } from "./stats.js";

export interface CriSerial {
  /** RunPodSandbox + CreateContainer + StartContainer, ms. */
  total: Summary;
  samples: number[];
  runPod: Summary;
  create: Summary;
  start: Summary;
}

export interface CriConcurrent {
  /** Each pod's time from the batch's start until its StartContainer answered, ms (all rounds). */
  perPod: Summary;
  /** The whole batch (until the last pod answered), ms, one per round. */
  batch: Summary;
  /** Per round: when the first and the last pod finished (ms from the batch's start). */
  spread: BatchRound[];
  samples: number[];
}

export interface CriResult {
  rounds: number;
  warmup: number;
  concurrency: number;
  concurrentRounds: number;
  image: string;
  pauseImage: string;
  serial: Record<string, CriSerial>;
  concurrent: Record<string, CriConcurrent>;
  load: { start: number[]; end: number[] };
}

export interface CriOptions {
  env: BenchEnv;
  registry: Registry;
  busybox: BenchImage;
  rounds: number;
  warmup: number;
  concurrency: number;
  concurrentRounds: number;
}

export interface BatchRound {
  firstMs: number;
  lastMs: number;
  /** How many pods answered StartContainer within 5 ms of the last one. */
  inLast5Ms: number;
  /**
   * The bench process's own event-loop delay during the batch (max, ms): replies read late
   * because this client was blocked or off the CPU would cluster without the runtime's doing.
   */
  clientLoopDelayMaxMs: number;
  /** CPU time (ms) each daemon of the runtime used during the batch (shims, runc, CNI not counted). */
  daemonCpuMs: Record<string, number>;
  /** Per pod, when each call answered (ms from the batch's start): RunPodSandbox, CreateContainer, StartContainer. */
  answeredMs: [number, number, number][];
}

interface Started {
  podId: string;
  ms: [runPod: number, create: number, start: number];
  /** When each call answered, ms from `since`. */
  answeredMs: [number, number, number];
}

/** One pod with one `sleep` container, as kubelet asks for it; the time of each call. */
async function startPod(
  runtime: CriRuntime,
  image: string,
  logRoot: string,
  name: string,
  since?: number,
): Promise<Started> {
  const logDirectory = join(logRoot, name);
  await mkdir(logDirectory, { recursive: true });
  const config = {
    metadata: { name, uid: name, namespace: "sbxbench", attempt: 0 },
    hostname: name,
    logDirectory,
    labels: { "sbxbench.pid": String(process.pid) },
    linux: { cgroupParent: `/${runtime.cgroupParent}` },
  };
  const t0 = performance.now();
  const { podSandboxId } = await runtime.rt.runPodSandbox({ config }, { timeoutMs: 120_000 });
  const t1 = performance.now();
  const { containerId } = await runtime.rt.createContainer(
    {
      podSandboxId,
      config: {
        metadata: { name: "sleep", attempt: 0 },
        image: { image },
        command: ["sleep", "3600"],
        logPath: "sleep.log",
        linux: {},
      },
      sandboxConfig: config,
    },
    { timeoutMs: 120_000 },
  );
  const t2 = performance.now();
  await runtime.rt.startContainer({ containerId }, { timeoutMs: 120_000 });
  const t3 = performance.now();
  const from = since ?? t0;
  return {
    podId: podSandboxId,
    ms: [t1 - t0, t2 - t1, t3 - t2],
    answeredMs: [t1 - from, t2 - from, t3 - from],
  };
}

/** Untimed: every container the runs started must be running; then every pod goes. */
async function checkAndRemove(runtime: CriRuntime, expected: number): Promise<void> {
  const { containers } = await runtime.rt.listContainers({
    filter: { state: { state: ContainerState.CONTAINER_RUNNING } },
  });
  if (containers.length < expected) {
    throw new Error(
      `${runtime.name}: ${containers.length} containers running after starting ${expected}`,
    );
  }
  await runtime.removeAllPods();
}

export async function benchCri(o: CriOptions): Promise<CriResult> {
  const load = { start: loadavg(), end: [] as number[] };
  const { runtime: ctd, pause } = await startContainerdCri(o.env, o.registry);
  const sbd = await startSandboxdCri(o.env);
  const warm = await startSandboxdCri(o.env, PREPARED_NETWORKS);
  const runtimes = [ctd, sbd, warm];
  for (const r of runtimes) {
    await r.images.pullImage({ image: { image: o.busybox.ref } }, { timeoutMs: 120_000 });
  }
  const logRoot = join(o.env.dir, "cri-logs");
  let n = 0;
  const name = (): string => `bench-${process.pid}-${n++}`;

  const phases: Record<string, [number[], number[], number[]]> = {};
  const serialSamples = await alternateWithReset(
    Object.fromEntries(
      runtimes.map((r) => [
        r.name,
        {
          async once() {
            const s = await startPod(r, o.busybox.ref, logRoot, name());
            const p = (phases[r.name] ??= [[], [], []]);
            s.ms.forEach((ms, i) => p[i]!.push(ms));
          },
          reset: () => checkAndRemove(r, 1),
        },
      ]),
    ),
    o.rounds,
    o.warmup,
  );

  const perPod: Record<string, number[]> = {};
  const spreads: Record<string, BatchRound[]> = {};
  const batchSamples = await alternateWithReset(
    Object.fromEntries(
      runtimes.map((r) => [
        r.name,
        {
          async once() {
            const daemons = Object.entries(r.daemons);
            const cpuBefore = await Promise.all(daemons.map(([, pid]) => cpuMs(pid)));
            const delay = monitorEventLoopDelay({ resolution: 5 });
            delay.enable();
            const t0 = performance.now();
            const answered = await Promise.all(
              Array.from({ length: o.concurrency }, async () => {
                const s = await startPod(r, o.busybox.ref, logRoot, name(), t0);
                return s.answeredMs;
              }),
            );
            delay.disable();
            const cpuAfter = await Promise.all(daemons.map(([, pid]) => cpuMs(pid)));
            const done = answered.map((a) => a[2]);
            const lastMs = Math.max(...done);
            (perPod[r.name] ??= []).push(...done);
            (spreads[r.name] ??= []).push({
              firstMs: Math.min(...done),
              lastMs,
              inLast5Ms: done.filter((d) => d >= lastMs - 5).length,
              clientLoopDelayMaxMs: delay.max / 1e6,
              daemonCpuMs: Object.fromEntries(
                daemons.map(([d], i) => [d, (cpuAfter[i] ?? NaN) - (cpuBefore[i] ?? NaN)]),
              ),
              answeredMs: answered,
            });
          },
          reset: () => checkAndRemove(r, o.concurrency),
        },
      ]),
    ),
    o.concurrentRounds,
    // The serial rounds warmed both up.
    0,
  );
  load.end = loadavg();

  const serial: Record<string, CriSerial> = {};
  const concurrent: Record<string, CriConcurrent> = {};
  for (const r of runtimes) {
    const p = phases[r.name] ?? [[], [], []];
    // phases holds the warm-up rounds too: drop them, as the totals do.
    const recorded = (s: number[]): Summary => summarize(s.slice(o.warmup));
    serial[r.name] = {
      total: summarize(serialSamples[r.name] ?? []),
      samples: serialSamples[r.name] ?? [],
      runPod: recorded(p[0]),
      create: recorded(p[1]),
      start: recorded(p[2]),
    };
    concurrent[r.name] = {
      perPod: summarize(perPod[r.name] ?? []),
      batch: summarize(batchSamples[r.name] ?? []),
      spread: spreads[r.name] ?? [],
      samples: perPod[r.name] ?? [],
    };
  }
  return {
    rounds: o.rounds,
    warmup: o.warmup,
    concurrency: o.concurrency,
    concurrentRounds: o.concurrentRounds,
    image: o.busybox.ref,
    pauseImage: pause.ref,
    serial,
    concurrent,
    load,
  };
}

export { CriSystem };
