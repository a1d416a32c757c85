/**
 * `ctr run --rm --rootfs DIR ID /bin/true` end to end, against sandboxd and
 * against a real containerd 1.6, alternating the two (A B, A B, ...) so that
 * machine drift hits both alike. Both run the stock containerd-shim-runc-v2;
 * the client is Debian's ctr in both cases. The target: sandboxd's median
 * within 1.1x of containerd's in the same run.
 *
 * CLI: node bench/dist/ctr-run.js [RUNS]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { runCtr, startContainerd, startSandboxd } from "@sandboxd/testing";
// TODO: import prepareBusyboxRootfs from "@sandboxd/client" once its index exports it.
import { prepareBusyboxRootfs } from "../../packages/client/dist/rootfs/busybox.js";
import { alternate, ratio, summarize, type Summary } from "./stats.js";

export interface CtrRunBenchOptions {
  /** Recorded runs per system (default 50). */
  runs?: number;
  /** Unrecorded rounds first (default 3). */
  warmup?: number;
  /** sandboxd's log level during the run (default "info", as a deployment would run). */
  logLevel?: string;
}

export interface CtrRunBenchResult {
  runs: number;
  /** Milliseconds per `ctr run --rm`. */
  sandboxd: Summary;
  containerd: Summary;
  /** sandboxd / containerd, medians. The target is <= 1.1. */
  medianRatio: number;
  p99Ratio: number;
}

export async function benchCtrRun(options: CtrRunBenchOptions = {}): Promise<CtrRunBenchResult> {
  const runs = options.runs ?? 50;
  const dir = await mkdtemp(join(tmpdir(), "sbx-bench-"));
  const rootfs = join(dir, "rootfs");
  const stops: (() => Promise<void>)[] = [];
  try {
    await prepareBusyboxRootfs(rootfs);
    const containerd = await startContainerd({ dir: join(dir, "containerd") });
    stops.push(() => containerd.stop());
    const sandboxd = await startSandboxd({
      dir: join(dir, "sandboxd"),
      logLevel: options.logLevel ?? "info",
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
    const samples = await alternate(
      { sandboxd: once(sandboxd.address), containerd: once(containerd.address) },
      runs,
      options.warmup ?? 3,
    );
    const s = summarize(samples.sandboxd ?? []);
    const c = summarize(samples.containerd ?? []);
    return {
      runs,
      sandboxd: s,
      containerd: c,
      medianRatio: ratio(s.median, c.median),
      p99Ratio: ratio(s.p99, c.p99),
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatCtrRun(r: CtrRunBenchResult): string {
  const row = (name: string, s: Summary): string =>
    `${name.padEnd(12)} median ${s.median.toFixed(1).padStart(6)} ms   p99 ${s.p99.toFixed(1).padStart(6)} ms   min ${s.min.toFixed(1).padStart(6)} ms`;
  return [
    `ctr run --rm --rootfs DIR ID /bin/true, ${r.runs} runs each, alternating`,
    row("sandboxd", r.sandboxd),
    row("containerd", r.containerd),
    `ratio (sandboxd / containerd): median ${r.medianRatio.toFixed(3)}, p99 ${r.p99Ratio.toFixed(3)} (target <= 1.1)`,
  ].join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.argv[2] ?? 50);
  const result = await benchCtrRun({ runs });
  process.stdout.write(`${formatCtrRun(result)}\n`);
}
