/**
 * `ctr run --rm --rootfs DIR ID /bin/true` end to end, against sandboxd and
 * against a real containerd 1.6, alternating the two (A B, A B, ...) so that
 * machine drift hits both alike. Both run the stock containerd-shim-runc-v2;
 * the client is Debian's ctr in both cases. The target (issue 13): sandboxd's
 * median at most containerd's in the same run.
 *
 * With `rpcs`, both daemons also serve their RPC histograms, and the result
 * says per RPC how often ctr calls it and how long each daemon takes to answer
 * (server side), with each daemon's CPU per run: where the difference is.
 *
 * CLI: node bench/dist/ctr-run.js [RUNS] [--rpcs]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { runCtr, startContainerd, startSandboxd } from "@sandboxd/testing";
// TODO: import prepareBusyboxRootfs from "@sandboxd/client" once its index exports it.
import { prepareBusyboxRootfs } from "../../packages/client/dist/rootfs/busybox.js";
import { alternate, ratio, summarize, type Summary } from "./stats.js";
import {
  cpuMs,
  freePort,
  metricsConfig,
  rpcRows,
  scrapeRpcs,
  type RpcRow,
  type RpcTotals,
} from "./rpc-metrics.js";

export interface CtrRunBenchOptions {
  /** Recorded runs per system (default 50). */
  runs?: number;
  /** Unrecorded rounds first (default 3). */
  warmup?: number;
  /** sandboxd's log level during the run (default "info", as a deployment would run). */
  logLevel?: string;
  /** Also measure each RPC's server-side time and each daemon's CPU per run. */
  rpcs?: boolean;
}

export interface DaemonRpcs {
  /** Daemon process CPU (user + system) per run, ms. */
  cpuPerRunMs: number;
  rows: RpcRow[];
}

export interface CtrRunBenchResult {
  runs: number;
  /** Milliseconds per `ctr run --rm`. */
  sandboxd: Summary;
  containerd: Summary;
  /** sandboxd / containerd, medians. The target is <= 1.1. */
  medianRatio: number;
  p99Ratio: number;
  /** Paired: the median of sandboxd / containerd over the rounds. */
  pairedRatio: number;
  rpcs?: { sandboxd: DaemonRpcs; containerd: DaemonRpcs };
}

export async function benchCtrRun(options: CtrRunBenchOptions = {}): Promise<CtrRunBenchResult> {
  const runs = options.runs ?? 50;
  const dir = await mkdtemp(join(tmpdir(), "sbx-bench-"));
  const rootfs = join(dir, "rootfs");
  const stops: (() => Promise<void>)[] = [];
  try {
    await prepareBusyboxRootfs(rootfs);
    const ports = options.rpcs ? { c: await freePort(), s: await freePort() } : undefined;
    const containerd = await startContainerd({
      dir: join(dir, "containerd"),
      ...(ports ? { extraConfig: metricsConfig(ports.c, "containerd") } : {}),
    });
    stops.push(() => containerd.stop());
    const sandboxd = await startSandboxd({
      dir: join(dir, "sandboxd"),
      logLevel: options.logLevel ?? "info",
      ...(ports ? { extraConfig: metricsConfig(ports.s, "sandboxd") } : {}),
    });
    stops.push(() => sandboxd.stop());
    let n = 0;
    const once = (address: string) => async (): Promise<void> => {
      const id = `bench-${n++}`;
      const r = await runCtr(address, ["run", "--rm", "--rootfs", rootfs, id, "/bin/true"], {
        namespace: "bench",
      });
      if (r.code !== 0)
        throw new Error(`ctr run against ${address} failed (${r.code}): ${r.stderr}`);
    };
    const systems = { sandboxd: once(sandboxd.address), containerd: once(containerd.address) };
    await alternate(systems, options.warmup ?? 3, 0);
    const pids = { s: sandboxd.process.pid ?? 0, c: containerd.process.pid ?? 0 };
    const before = ports && (await snapshot(ports, pids));
    const samples = await alternate(systems, runs, 0);
    const after = ports && (await snapshot(ports, pids));
    const sd = samples.sandboxd ?? [];
    const cd = samples.containerd ?? [];
    const s = summarize(sd);
    const c = summarize(cd);
    return {
      runs,
      sandboxd: s,
      containerd: c,
      medianRatio: ratio(s.median, c.median),
      p99Ratio: ratio(s.p99, c.p99),
      pairedRatio: summarize(sd.map((v, i) => ratio(v, cd[i] ?? Number.NaN))).median,
      ...(before && after
        ? {
            rpcs: {
              sandboxd: daemonRpcs(before.s, after.s, runs),
              containerd: daemonRpcs(before.c, after.c, runs),
            },
          }
        : {}),
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

interface Snapshot {
  rpcs: RpcTotals;
  cpu: number;
}

async function snapshot(
  ports: { s: number; c: number },
  pids: { s: number; c: number },
): Promise<{ s: Snapshot; c: Snapshot }> {
  const [sr, cr, scpu, ccpu] = await Promise.all([
    scrapeRpcs(ports.s),
    scrapeRpcs(ports.c),
    cpuMs(pids.s),
    cpuMs(pids.c),
  ]);
  return { s: { rpcs: sr, cpu: scpu }, c: { rpcs: cr, cpu: ccpu } };
}

function daemonRpcs(before: Snapshot, after: Snapshot, runs: number): DaemonRpcs {
  return {
    cpuPerRunMs: (after.cpu - before.cpu) / runs,
    rows: rpcRows(before.rpcs, after.rpcs, runs),
  };
}

export function formatCtrRun(r: CtrRunBenchResult): string {
  const row = (name: string, s: Summary): string =>
    `${name.padEnd(12)} median ${s.median.toFixed(1).padStart(6)} ms   p99 ${s.p99.toFixed(1).padStart(6)} ms   min ${s.min.toFixed(1).padStart(6)} ms`;
  const lines = [
    `ctr run --rm --rootfs DIR ID /bin/true, ${r.runs} runs each, alternating`,
    row("sandboxd", r.sandboxd),
    row("containerd", r.containerd),
    `ratio (sandboxd / containerd): medians ${r.medianRatio.toFixed(3)}, paired ${r.pairedRatio.toFixed(3)}, p99 ${r.p99Ratio.toFixed(3)} (target <= 1.0)`,
  ];
  if (r.rpcs) {
    const { sandboxd: s, containerd: c } = r.rpcs;
    const cMs = new Map(c.rows.map((x) => [x.method, x]));
    const sMs = new Map(s.rows.map((x) => [x.method, x]));
    const methods = [...new Set([...sMs.keys(), ...cMs.keys()])].sort();
    const cell = (x: RpcRow | undefined): string =>
      x ? `${x.meanMs.toFixed(2)} ms ×${x.calls.toFixed(1)}`.padStart(16) : "-".padStart(16);
    lines.push(
      `daemon CPU per run: sandboxd ${s.cpuPerRunMs.toFixed(1)} ms, containerd ${c.cpuPerRunMs.toFixed(1)} ms`,
      `${"server-side time per call".padEnd(26)}${"sandboxd".padStart(16)}${"containerd".padStart(16)}`,
      ...methods.map((m) => `${m.padEnd(26)}${cell(sMs.get(m))}${cell(cMs.get(m))}`),
    );
  }
  return lines.join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const runs = Number(args.find((a) => !a.startsWith("--")) ?? 50);
  const result = await benchCtrRun({ runs, rpcs: args.includes("--rpcs") });
  process.stdout.write(`${formatCtrRun(result)}\n`);
}
