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
      // pino stamps whole milliseconds (truncated): the end is on average half a ms later.
      const end = (typeof j.time === "number" ? j.time : Date.parse(j.time)) + 0.5 - offset;
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

/** The offset epoch ms − CLOCK_MONOTONIC ms. */
export function clockOffset(): number {
  // Date.now() truncates to whole ms: the mean over readings spread across a few ms, plus
  // half a ms, is the offset without that bias.
  let sum = 0;
  let n = 0;
  for (const until = monotonicMs() + 5; monotonicMs() < until; n++) {
    sum += Date.now() + 0.5 - monotonicMs();
  }
  return sum / n;
}

export type Window = [start: number, end: number];

/**
 * Whether an RPC belongs to a window: its midpoint lies within it. Windows that
 * follow each other share no RPC, and the millisecond resolution of the log
 * cannot push an RPC out of the step that made it.
 */
export function within(r: Rpc, w: Window): boolean {
  const mid = (r.startMs + r.endMs) / 2;
  return mid >= w[0] && mid < w[1];
}

/** What happened within each window, over all runs: RPCs and processes. */
export class Attribution {
  readonly rpcs = new Map<string, Map<string, number>>();
  readonly serverMs = new Map<string, number[]>();
  readonly procs = new Map<string, Map<string, number[]>>();

  add(step: string, w: Window, rpcs: readonly Rpc[], procs: readonly TracedProcess[]): void {
    const inside = rpcs.filter((r) => within(r, w) && !r.method.endsWith("/Wait"));
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
