/**
 * The profile's bookkeeping: RPCs read back from sandboxd's debug log, and
 * what happened (RPCs, processes) within each step's time window, over all
 * runs; plus the clocks and CPU counters it reads.
 */
import { readFile } from "node:fs/promises";
import { exeName, monotonicMs, type TracedProcess } from "./proc-trace.js";
import type { StepRow } from "./profile.js";
import { percentile, summarize } from "./stats.js";

export interface Rpc {
  method: string;
  startMs: number;
  endMs: number;
}

/** RPCs from sandboxd's debug log, on CLOCK_MONOTONIC (`offset` = epoch − monotonic). */
export function rpcsOfLog(log: string, offset: number): Rpc[] {
  const out: Rpc[] = [];
  for (const line of log.split("\n")) {
    if (!line.includes('"msg":"rpc"')) continue;
    try {
      const j = JSON.parse(line) as { time: string | number; method: string; duration_ms: number };
      const end = (typeof j.time === "number" ? j.time : Date.parse(j.time)) - offset;
      out.push({
        method: j.method.replace(/^\/containerd\.services\./, "").replace(/\.v1\./, "."),
        startMs: end - j.duration_ms,
        endMs: end,
      });
    } catch {
      // not a JSON line
    }
  }
  return out;
}

/** CPU ms (utime + stime) of a process, or of its reaped children with `children`. */
export async function cpuMs(pid: number | "self", children = false): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields after the command: state is [0]; utime [11], stime [12], cutime [13], cstime [14].
  const ticks = children ? Number(f[13]) + Number(f[14]) : Number(f[11]) + Number(f[12]);
  return Number.isFinite(ticks) ? ticks * 10 : Number.NaN;
}

/** The offset epoch ms − CLOCK_MONOTONIC ms (the smallest of a few readings). */
export function clockOffset(): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) best = Math.min(best, Date.now() - monotonicMs());
  return best;
}

export type Window = [start: number, end: number];

/** What happened within each window, over all runs: RPCs and processes. */
export class Attribution {
  readonly rpcs = new Map<string, Map<string, number>>();
  readonly serverMs = new Map<string, number[]>();
  readonly procs = new Map<string, Map<string, number[]>>();

  add(step: string, w: Window, rpcs: readonly Rpc[], procs: readonly TracedProcess[]): void {
    // pino stamps the time in whole ms: a millisecond of slack either side.
    const inside = rpcs.filter(
      (r) => r.startMs >= w[0] - 1 && r.endMs <= w[1] + 1 && !r.method.endsWith("/Wait"),
    );
    const counts = this.rpcs.get(step) ?? new Map<string, number>();
    for (const r of inside) counts.set(r.method, (counts.get(r.method) ?? 0) + 1);
    this.rpcs.set(step, counts);
    const ms = this.serverMs.get(step) ?? [];
    ms.push(inside.reduce((a, r) => a + (r.endMs - r.startMs), 0));
    this.serverMs.set(step, ms);
    const byExe = this.procs.get(step) ?? new Map<string, number[]>();
    for (const p of procs) {
      if (p.startMs < w[0] || p.startMs > w[1]) continue;
      const life = byExe.get(p.exe) ?? [];
      life.push((p.endMs ?? Number.NaN) - p.startMs);
      byExe.set(p.exe, life);
    }
    this.procs.set(step, byExe);
  }

  row(step: string, clientMs: readonly number[], rounds: number, traced: boolean): StepRow {
    const per = (n: number): string => {
      const v = n / rounds;
      return Number.isInteger(v) ? String(v) : v.toFixed(1);
    };
    const rpcs = [...(this.rpcs.get(step) ?? new Map<string, number>())]
      .map(([m, n]) => `${m} ×${per(n)}`)
      .join(", ");
    const byExe = [...(this.procs.get(step) ?? new Map<string, number[]>())].sort(
      (a, b) => b[1].length - a[1].length,
    );
    const procs = byExe
      .map(([exe, lives]) => {
        const exited = lives.filter(Number.isFinite);
        const life =
          exited.length === 0
            ? "did not exit while traced"
            : `${percentile(exited, 0.5).toFixed(1)} ms${exited.length < lives.length ? "; some did not exit while traced" : ""}`;
        return `${exeName(exe)} ×${per(lives.length)} (${life})`;
      })
      .join(", ");
    return {
      step,
      clientMs: summarize(clientMs),
      serverMs: summarize(this.serverMs.get(step) ?? []),
      rpcs: rpcs || "none",
      processes: traced ? procs || "none" : "not traced",
      processList: byExe.map(([exe, lives]) => ({
        exe,
        perRun: lives.length / rounds,
        medianMs: percentile(lives.filter(Number.isFinite), 0.5),
      })),
    };
  }
}
