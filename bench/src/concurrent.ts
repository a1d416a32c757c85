/**
 * N pods started at once, one sleeping container each; the time from the
 * first request until every container runs (every start call returned), then
 * checked by listing the tasks. Not timed: removing them again between rounds.
 *
 * - containerd 1.6 + runc shim: N concurrent `ctr run -d --rootfs` (a Go CLI process each);
 * - sandboxd + sbx-sandboxer: N concurrent `sbx run -d --rootfs` (sbx as installed: an
 *   sbx-client each, the commands run in sandboxd's CLI server; a pod per container), and
 *   the same N pods from the SDK in this process.
 *
 * Rounds alternate the systems (the order rotated each round).
 */
import type { Client } from "@sandboxd/client";
import { ProcessStatus, defaultSpec } from "@sandboxd/client";
import type { Containerd } from "@sandboxd/testing";
import { pool } from "./harness.js";
import { exitOf } from "./start-to-exit.js";
import { cpuMs } from "./profile-attribution.js";
import { percentile, summarize, type Summary } from "./stats.js";
import { NAMESPACE, removeSandboxes, type SbxStack } from "./systems.js";

export const ConcurrentSystem = {
  containerd: "containerd 1.6: ctr run -d ×N",
  sbx: "sandboxd: sbx run -d ×N",
  sdk: "sandboxd: SDK ×N (one process)",
} as const;
export type ConcurrentSystem = (typeof ConcurrentSystem)[keyof typeof ConcurrentSystem];

export interface ConcurrentOptions {
  pods: number;
  rounds: number;
  rootfs: string;
  containerd: Containerd;
  stack: SbxStack;
  sbxBin: string;
}

export interface ConcurrentResult {
  pods: number;
  rounds: number;
  /** ms until all N run. */
  results: Partial<Record<ConcurrentSystem, { summary: Summary; samples: number[] }>>;
  /**
   * CPU ms the daemons spent during the timed start (median over the rounds): sandboxd and
   * sbx-sandboxer for our systems, containerd for containerd's (its shims are not counted).
   */
  daemonCpuMs: Partial<Record<ConcurrentSystem, Record<string, number>>>;
  skipped: Partial<Record<ConcurrentSystem, string>>;
}

const SLEEP = ["/bin/sleep", "100000"];

/** Starts one pod with a sleeping container through the SDK. */
export async function sdkStartPod(client: Client, id: string, rootfs: string): Promise<void> {
  const podSpec = defaultSpec({ id, namespace: client.namespace, hostname: id });
  delete podSpec.process;
  delete podSpec.root;
  const sandbox = await client.newSandbox(id, { spec: podSpec });
  await sandbox.start();
  const container = await sandbox.newContainer(id, {
    spec: defaultSpec({ id, namespace: client.namespace, args: SLEEP, rootfs, hostname: id }),
  });
  const task = await container.newTask();
  await task.start();
}

async function ctrLines(containerd: Containerd, args: string[]): Promise<string[]> {
  const r = await containerd.ctr(args, { namespace: NAMESPACE });
  return r.stdout.split("\n").filter(Boolean);
}

/** Kills and removes every task and container of the bench namespace in containerd. */
export async function clearContainerd(containerd: Containerd): Promise<void> {
  const ids = await ctrLines(containerd, ["containers", "ls", "-q"]);
  await pool(ids, 8, async (id) => {
    await containerd.ctr(["tasks", "kill", "-s", "SIGKILL", id], { namespace: NAMESPACE });
    // rm -f waits for the kill to land.
    await containerd.ctr(["tasks", "rm", "-f", id], { namespace: NAMESPACE });
    await containerd.ctr(["containers", "rm", id], { namespace: NAMESPACE });
  });
}

async function runningTasks(client: Client): Promise<number> {
  const tasks = await client.tasks();
  return tasks.filter((t) => t.status === ProcessStatus.Running).length;
}

export async function benchConcurrent(o: ConcurrentOptions): Promise<ConcurrentResult> {
  const skipped: ConcurrentResult["skipped"] = {};
  let round = 0;
  const ids = (prefix: string): string[] =>
    Array.from({ length: o.pods }, (_, i) => `${prefix}${round}x${i}`);
  const systems: Partial<Record<ConcurrentSystem, () => Promise<void>>> = {
    [ConcurrentSystem.containerd]: async () => {
      await Promise.all(
        ids("c").map(async (id) => {
          const r = await o.containerd.ctr(["run", "-d", "--rootfs", o.rootfs, id, ...SLEEP], {
            namespace: NAMESPACE,
          });
          if (r.code !== 0) throw new Error(`ctr run -d ${id}: ${r.stderr.trim()}`);
        }),
      );
    },
  };
  if (o.stack.sandboxApi) {
    systems[ConcurrentSystem.sbx] = async () => {
      await Promise.all(
        ids("s").map(async (id) => {
          const r = await exitOf(o.sbxBin, [
            "--address",
            o.stack.sandboxd.address,
            "-n",
            NAMESPACE,
            "run",
            "-d",
            "--rootfs",
            o.rootfs,
            id,
            ...SLEEP,
          ]);
          if (r.code !== 0) throw new Error(`sbx run -d ${id}: ${r.stderr.trim()}`);
        }),
      );
    };
    systems[ConcurrentSystem.sdk] = async () => {
      await Promise.all(ids("k").map((id) => sdkStartPod(o.stack.client, id, o.rootfs)));
    };
  } else {
    skipped[ConcurrentSystem.sbx] = "sandboxd does not serve the Sandbox API yet";
    skipped[ConcurrentSystem.sdk] = "sandboxd does not serve the Sandbox API yet";
  }

  // Each timed start is followed, untimed, by a check that N run and their removal,
  // so every system starts on an empty machine.
  const verifyAndClear = async (name: string): Promise<void> => {
    if (name === ConcurrentSystem.containerd) {
      const running = (await ctrLines(o.containerd, ["tasks", "ls"])).filter((l) =>
        l.includes("RUNNING"),
      ).length;
      await clearContainerd(o.containerd);
      if (running !== o.pods) throw new Error(`containerd: ${running} of ${o.pods} running`);
    } else {
      const running = await runningTasks(o.stack.client);
      await removeSandboxes(o.stack.client);
      if (running !== o.pods) throw new Error(`${name}: ${running} of ${o.pods} running`);
    }
  };
  const names = Object.keys(systems) as ConcurrentSystem[];
  const samples: Record<string, number[]> = {};
  const daemons = (name: ConcurrentSystem): Record<string, number> =>
    name === ConcurrentSystem.containerd
      ? { containerd: o.containerd.process.pid ?? 0 }
      : { sandboxd: o.stack.sandboxd.process.pid ?? 0, "sbx-sandboxer": o.stack.sandboxer.pid };
  const cpu: Partial<Record<ConcurrentSystem, Record<string, number[]>>> = {};
  for (round = 0; round < o.rounds; round++) {
    const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)];
    for (const name of order) {
      const pids = Object.entries(daemons(name));
      const before = await Promise.all(pids.map(([, pid]) => cpuMs(pid)));
      const started = performance.now();
      await systems[name]!();
      (samples[name] ??= []).push(performance.now() - started);
      const after = await Promise.all(pids.map(([, pid]) => cpuMs(pid)));
      const c = (cpu[name] ??= {});
      pids.forEach(([daemon], i) => (c[daemon] ??= []).push(after[i]! - before[i]!));
      await verifyAndClear(name);
    }
  }
  const results: ConcurrentResult["results"] = {};
  for (const [name, s] of Object.entries(samples)) {
    results[name as ConcurrentSystem] = { summary: summarize(s), samples: s };
  }
  const daemonCpuMs: ConcurrentResult["daemonCpuMs"] = {};
  for (const [name, byDaemon] of Object.entries(cpu)) {
    daemonCpuMs[name as ConcurrentSystem] = Object.fromEntries(
      Object.entries(byDaemon).map(([d, v]) => [d, percentile(v, 0.5)]),
    );
  }
  return { pods: o.pods, rounds: o.rounds, results, daemonCpuMs, skipped };
}
