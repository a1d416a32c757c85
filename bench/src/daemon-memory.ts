/**
 * The daemons' own memory both ways sandboxd can run sbx-sandboxer, on fresh
 * daemons, one mode after the other in the same run:
 *
 * - `separate`: sandboxd + the sbx-sandboxer process (proxy plugin), what
 *   containerd's deployments need;
 * - `inproc`: sandboxd hosting the sandboxer (`[sandbox] in_process`).
 *
 * For each: right after start, at N/2 and N pods (one `sleep` container each,
 * made through the SDK 8 at a time), and idle again after they were removed.
 * PSS and private memory (USS: pages no other process maps) of each daemon
 * and of the conmons. PSS moves with how many other Node processes run on
 * the machine (they share Node's text); private memory does not.
 *
 *   node bench/dist/daemon-memory.js [--pods N] [--rounds R]
 *
 * prints a table and writes bench/results/daemon-memory.json.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "@sandboxd/client";
import { sdkStartPod } from "./concurrent.js";
import { openBenchEnv, pool } from "./harness.js";
import { startInProcessStack } from "./inproc-stack.js";
import { pidsOf, sample, type MemorySample } from "./pss.js";
import { busyboxRootfs, removeSandboxes, startSbxStack } from "./systems.js";

export type Mode = "separate" | "inproc";

export interface DaemonMemoryPoint {
  label: string;
  pods: number;
  parts: Record<string, MemorySample>;
}

export interface DaemonMemoryResult {
  pods: number;
  runs: { mode: Mode; points: DaemonMemoryPoint[] }[];
}

type Sampler = () => Promise<Record<string, MemorySample>>;

async function settledSample(sampler: Sampler): Promise<Record<string, MemorySample>> {
  await sleep(2000);
  return sampler();
}

async function runMode(mode: Mode, pods: number, rootfs: string): Promise<DaemonMemoryPoint[]> {
  const env = await openBenchEnv(`sbxdm-${mode}-`);
  try {
    let client: Client;
    let sampler: Sampler;
    if (mode === "separate") {
      const stack = await startSbxStack(env, { name: "sep" });
      client = stack.client;
      sampler = async () => ({
        sandboxd: await sample([stack.sandboxd.process.pid ?? 0]),
        "sbx-sandboxer": await sample([stack.sandboxer.pid]),
        conmon: await sample(await pidsOf("conmon", stack.sandboxer.stateDir)),
      });
    } else {
      const stack = await startInProcessStack(env);
      client = stack.client;
      sampler = async () => ({
        sandboxd: await sample([stack.sandboxd.process.pid ?? 0]),
        conmon: await sample(await pidsOf("conmon", stack.stateDir)),
      });
    }
    const points: DaemonMemoryPoint[] = [];
    const point = async (label: string, n: number): Promise<void> => {
      points.push({ label, pods: n, parts: await settledSample(sampler) });
    };
    await point("fresh", 0);
    const half = Math.floor(pods / 2);
    const ids = (from: number, to: number): string[] =>
      Array.from({ length: to - from }, (_, i) => `dm${from + i}`);
    await pool(ids(0, half), 8, (id) => sdkStartPod(client, id, rootfs));
    await point("half", half);
    await pool(ids(half, pods), 8, (id) => sdkStartPod(client, id, rootfs));
    await point("full", pods);
    await removeSandboxes(client);
    await point("after", 0);
    return points;
  } finally {
    const leftovers = await env.close();
    if (leftovers.length) process.stderr.write(`${mode}: ${leftovers.join("\n")}\n`);
  }
}

export async function benchDaemonMemory(
  o: { pods?: number; rounds?: number } = {},
): Promise<DaemonMemoryResult> {
  const pods = o.pods ?? 50;
  const env = await openBenchEnv("sbxdm-");
  try {
    const rootfs = await busyboxRootfs(env);
    const runs: DaemonMemoryResult["runs"] = [];
    for (let round = 0; round < (o.rounds ?? 1); round++) {
      // Alternate which goes first, so that drift of the machine hits both alike.
      const order: Mode[] = round % 2 === 0 ? ["separate", "inproc"] : ["inproc", "separate"];
      for (const mode of order) runs.push({ mode, points: await runMode(mode, pods, rootfs) });
    }
    return { pods, runs };
  } finally {
    await env.close();
  }
}

const MB = 1024;

function table(r: DaemonMemoryResult): string {
  const lines = [
    "mode      point  pods  daemons PSS  daemons private  sandboxd PSS/priv  sbx-sandboxer PSS/priv  conmons PSS",
  ];
  for (const run of r.runs) {
    for (const p of run.points) {
      const d = (k: string) => p.parts[k];
      const daemons = ["sandboxd", "sbx-sandboxer"].map(d).filter((x) => x !== undefined);
      const sum = (f: (m: MemorySample) => number) => daemons.reduce((a, m) => a + f(m), 0);
      const pp = (m: MemorySample | undefined) =>
        m ? `${(m.pssKiB / MB).toFixed(1)}/${((m.privateKiB ?? 0) / MB).toFixed(1)}` : "-";
      lines.push(
        [
          run.mode.padEnd(9),
          p.label.padEnd(6),
          String(p.pods).padStart(4),
          `${(sum((m) => m.pssKiB) / MB).toFixed(1)} MB`.padStart(12),
          `${(sum((m) => m.privateKiB ?? 0) / MB).toFixed(1)} MB`.padStart(16),
          pp(d("sandboxd")).padStart(18),
          pp(d("sbx-sandboxer")).padStart(23),
          `${((d("conmon")?.pssKiB ?? 0) / MB).toFixed(1)} MB`.padStart(12),
        ].join(" "),
      );
    }
  }
  return lines.join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({
    options: { pods: { type: "string" }, rounds: { type: "string" } },
  });
  const result = await benchDaemonMemory({
    pods: values.pods ? Number(values.pods) : undefined,
    rounds: values.rounds ? Number(values.rounds) : undefined,
  });
  process.stdout.write(`${table(result)}\n`);
  const out = join(dirname(fileURLToPath(import.meta.url)), "..", "results", "daemon-memory.json");
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
}
