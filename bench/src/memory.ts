/**
 * Memory of the runtime processes (not the workloads) per pod: PSS from
 * /proc/PID/smaps_rollup with no pods, with N/2 and with N pods of one
 * sleeping container each.
 *
 * - sandboxd stack: sandboxd + sbx-sandboxer + one conmon per container (+ any
 *   other process of the stack, e.g. a shim, should one be running);
 * - containerd 1.6: containerd + one containerd-shim-runc-v2 per container;
 * - with `inProcess`, also sandboxd hosting the sandboxer (`[sandbox] in_process`) +
 *   conmons: a fresh stack started for this row and stopped after it.
 *
 * Reported: the total at N, the total / N (per pod), and (total at N − total
 * at N/2) / (N/2), what one more pod costs. Each figure is the median of three
 * samples taken after the pods settled.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "@sandboxd/client";
import type { Containerd } from "@sandboxd/testing";
import { clearContainerd, sdkStartPod } from "./concurrent.js";
import { openBenchEnv, pool } from "./harness.js";
import { startInProcessStack } from "./inproc-stack.js";
import { pidsOf, processTable, sample, type MemorySample } from "./pss.js";
import { percentile } from "./stats.js";
import { NAMESPACE, removeSandboxes, type SbxStack } from "./systems.js";

export interface MemoryPoint {
  pods: number;
  parts: Record<string, MemorySample>;
  totalPssKiB: number;
}

export interface MemorySeries {
  idle: MemoryPoint;
  half: MemoryPoint;
  full: MemoryPoint;
  perPodPssKiB: number;
  incrementPerPodPssKiB: number;
}

export interface MemoryResult {
  pods: number;
  /** PSS KiB of each daemon right after it started, before any section ran. */
  freshPssKiB?: Record<string, number>;
  sbx?: MemorySeries;
  /** sandboxd with sbx-sandboxer in its process, started fresh for this row. */
  inProcess?: MemorySeries;
  containerd: MemorySeries;
  skipped?: string;
}

type Sampler = () => Promise<Record<string, MemorySample>>;

async function settled(pods: number, sampler: Sampler): Promise<MemoryPoint> {
  await sleep(1000);
  const points: MemoryPoint[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(300);
    const parts = await sampler();
    const total = Object.values(parts).reduce((a, p) => a + p.pssKiB, 0);
    points.push({ pods, parts, totalPssKiB: total });
  }
  const median = percentile(
    points.map((p) => p.totalPssKiB),
    0.5,
  );
  return points.find((p) => p.totalPssKiB === median) ?? points[0]!;
}

function series(idle: MemoryPoint, half: MemoryPoint, full: MemoryPoint): MemorySeries {
  return {
    idle,
    half,
    full,
    perPodPssKiB: full.totalPssKiB / full.pods,
    incrementPerPodPssKiB: (full.totalPssKiB - half.totalPssKiB) / (full.pods - half.pods),
  };
}

export function sbxSampler(stack: SbxStack): Sampler {
  return async () => {
    const known = new Set([stack.sandboxd.process.pid ?? 0, stack.sandboxer.pid]);
    const conmons = await pidsOf("conmon", stack.sandboxer.stateDir);
    for (const pid of conmons) known.add(pid);
    // Anything else of the stack (shims, socat, pid holders): none expected, counted if there.
    const others = (await processTable())
      .filter(
        (p) =>
          !known.has(p.pid) &&
          p.pid !== process.pid &&
          (p.argv.join(" ").includes(stack.sandboxer.stateDir) ||
            p.argv.join(" ").includes(stack.sandboxd.address)),
      )
      .map((p) => p.pid);
    return {
      sandboxd: await sample([stack.sandboxd.process.pid ?? 0]),
      "sbx-sandboxer": await sample([stack.sandboxer.pid]),
      conmon: await sample(conmons),
      other: await sample(others),
    };
  };
}

export function containerdSampler(containerd: Containerd): Sampler {
  return async () => ({
    containerd: await sample([containerd.process.pid ?? 0]),
    "containerd-shim-runc-v2": await sample(
      await pidsOf("containerd-shim-runc-v2", containerd.address),
    ),
  });
}

export async function benchMemory(o: {
  pods: number;
  rootfs: string;
  containerd: Containerd;
  stack: SbxStack;
  freshPssKiB?: Record<string, number>;
  /** Also measure the in-process stack (in an environment of its own); without it, not. */
  inProcess?: boolean;
}): Promise<MemoryResult> {
  const half = Math.floor(o.pods / 2);
  const fresh = o.freshPssKiB ? { freshPssKiB: o.freshPssKiB } : {};
  const batch = (prefix: string, from: number, to: number): string[] =>
    Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);

  const cSampler = containerdSampler(o.containerd);
  const cIdle = await settled(0, cSampler);
  const ctrRun = async (id: string): Promise<void> => {
    const r = await o.containerd.ctr(
      ["run", "-d", "--rootfs", o.rootfs, id, "/bin/sleep", "100000"],
      { namespace: NAMESPACE },
    );
    if (r.code !== 0) throw new Error(`ctr run -d ${id}: ${r.stderr.trim()}`);
  };
  await pool(batch("mc", 0, half), 8, ctrRun);
  const cHalf = await settled(half, cSampler);
  await pool(batch("mc", half, o.pods), 8, ctrRun);
  const cFull = await settled(o.pods, cSampler);
  await clearContainerd(o.containerd);
  const containerd = series(cIdle, cHalf, cFull);

  if (!o.stack.sandboxApi) {
    return {
      pods: o.pods,
      ...fresh,
      containerd,
      skipped: "sandboxd does not serve the Sandbox API yet",
    };
  }
  const sbxSeries = (client: Client, sampler: Sampler) => async (): Promise<MemorySeries> => {
    const idle = await settled(0, sampler);
    const sdkRun = (id: string): Promise<void> => sdkStartPod(client, id, o.rootfs);
    await pool(batch("ms", 0, half), 8, sdkRun);
    const halfPoint = await settled(half, sampler);
    await pool(batch("ms", half, o.pods), 8, sdkRun);
    const full = await settled(o.pods, sampler);
    await removeSandboxes(client);
    return series(idle, halfPoint, full);
  };
  const sbx = await sbxSeries(o.stack.client, sbxSampler(o.stack))();
  const inProcess = o.inProcess ? await inProcessSeries(sbxSeries) : undefined;
  return { pods: o.pods, ...fresh, containerd, sbx, ...(inProcess ? { inProcess } : {}) };
}

/** The same pods on a fresh sandboxd hosting its sandboxer, in an environment of its own. */
async function inProcessSeries(
  measure: (client: Client, sampler: Sampler) => () => Promise<MemorySeries>,
): Promise<MemorySeries> {
  const env = await openBenchEnv("sbxb-inproc-");
  try {
    const stack = await startInProcessStack(env);
    return await measure(stack.client, async () => ({
      sandboxd: await sample([stack.sandboxd.process.pid ?? 0]),
      conmon: await sample(await pidsOf("conmon", stack.stateDir)),
    }))();
  } finally {
    const swept = await env.close();
    if (swept.length)
      process.stderr.write(`memory: the in-process stack left ${swept.join("; ")}\n`);
  }
}
