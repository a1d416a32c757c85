/**
 * A machine-wide trace of process life cycles (fork, exec, exit) with
 * `perf record` on the scheduler's tracepoints: cheap (no ptrace, no syscall
 * stops), so the daemons run at full speed while it records, and it sees every
 * process the daemons start (CNI plugins, runc, conmon, shims) with its
 * executable and lifetime. Times are CLOCK_MONOTONIC, the clock of
 * `process.hrtime`, so they line up with the bench's own marks.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { execFile } from "node:child_process";
import { basename } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** One process (not thread) that exec'd during the trace. */
export interface TracedProcess {
  pid: number;
  parent: number;
  /** What it exec'd last (full path), e.g. /usr/sbin/runc. */
  exe: string;
  /** Fork time, ms on CLOCK_MONOTONIC. */
  startMs: number;
  /** Exit time (of the whole thread group), ms on CLOCK_MONOTONIC; undefined while alive. */
  endMs: number | undefined;
}

/** Now, in ms on CLOCK_MONOTONIC (what perf's `-k CLOCK_MONOTONIC` stamps). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export interface ProcTrace {
  /** Stops recording and returns what it saw. */
  stop(): Promise<Traced>;
  /** Kills perf if it still runs (for the teardown). */
  kill(): void;
}

const EVENTS = "sched:sched_process_fork,sched:sched_process_exec,sched:sched_process_exit";

/** Starts `perf record` machine-wide into `file`; resolves once it records. */
export async function startProcTrace(file: string): Promise<ProcTrace> {
  const child: ChildProcess = spawn(
    "perf",
    ["record", "-q", "-k", "CLOCK_MONOTONIC", "-e", EVENTS, "-a", "-o", file],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<string>((resolve) =>
    child.once("close", (code, signal) => resolve(signal ?? String(code))),
  );
  // perf prints nothing when it starts; give it a moment, then check that it still runs.
  await new Promise((r) => setTimeout(r, 300));
  if (child.exitCode !== null) {
    throw new Error(`perf record exited with ${child.exitCode}: ${stderr.trim()}`);
  }
  return {
    async stop() {
      child.kill("SIGINT");
      // perf writes its file, then raises the signal it got again: SIGINT is a clean stop.
      const how = await exited;
      if (how !== "0" && how !== "SIGINT") {
        throw new Error(`perf record ended with ${how}: ${stderr.trim()}`);
      }
      const { stdout } = await execFileAsync(
        "perf",
        ["script", "-i", file, "-F", "pid,tid,time,event,trace"],
        { maxBuffer: 256 * 2 ** 20 },
      );
      return parsePerfScript(stdout);
    },
    kill() {
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

export interface Traced {
  /** Every process that exec'd during the trace, by pid. */
  procs: Map<number, TracedProcess>;
  /** Every fork (of processes and threads): child tid → the forking tid. */
  parents: Map<number, number>;
}

/**
 * Parses `perf script -F pid,tid,time,event,trace` lines of the three scheduler
 * events into processes. Threads are forks that never exec and whose exit is
 * not the group's: they are dropped (only processes that exec'd are kept).
 */
export function parsePerfScript(text: string): Traced {
  const forks = new Map<number, { parent: number; startMs: number }>();
  const parents = new Map<number, number>();
  const out = new Map<number, TracedProcess>();
  // "  pid/tid  time: sched:event: fields"; pid is the thread group (process) of the thread tid.
  const line = /^\s*(\d+)\/(\d+)\s+([\d.]+):\s+sched:(sched_process_\w+):\s+(.*)$/;
  for (const l of text.split("\n")) {
    const m = line.exec(l);
    if (!m) continue;
    const tgid = Number(m[1]);
    const ms = Number(m[3]) * 1000;
    const fields = m[5]!;
    switch (m[4] ?? "") {
      case "sched_process_fork": {
        const parent = Number(/\bpid=(\d+)/.exec(fields)?.[1]);
        const child = Number(/child_pid=(\d+)/.exec(fields)?.[1]);
        forks.set(child, { parent, startMs: ms });
        parents.set(child, parent);
        break;
      }
      case "sched_process_exec": {
        const exe = /filename=(\S+)/.exec(fields)?.[1] ?? "?";
        const pid = Number(/\bpid=(\d+)/.exec(fields)?.[1] ?? tgid);
        const f = forks.get(pid);
        const known = out.get(pid);
        if (known) known.exe = exe;
        else {
          out.set(pid, {
            pid,
            parent: f?.parent ?? 0,
            exe,
            startMs: f?.startMs ?? ms,
            endMs: undefined,
          });
        }
        break;
      }
      case "sched_process_exit": {
        // The last thread to exit (group_dead) ends the process, whichever thread it is.
        const p = out.get(tgid);
        if (p && !/group_dead=false/.test(fields)) p.endMs = ms;
        break;
      }
      default:
        break;
    }
  }
  return { procs: out, parents };
}

/**
 * The one of `roots` that `pid` descends from (or is), following the traced
 * forks (a thread's fork leads to the thread that made it, and on to its
 * process); undefined when none.
 */
export function rootOf(
  parents: ReadonlyMap<number, number>,
  pid: number,
  roots: ReadonlySet<number>,
): number | undefined {
  for (let p = pid, hops = 0; p > 1 && hops < 256; hops++) {
    if (roots.has(p)) return p;
    const up = parents.get(p);
    if (up === undefined) return undefined;
    p = up;
  }
  return undefined;
}

/** A short name for an executable: runc, conmon, bridge (CNI), runc init, ... */
export function exeName(exe: string): string {
  // runc 1.1 runs `runc init` from a sealed copy of itself (/proc/self/fd/N, /dev/fd/N) or
  // /proc/self/exe.
  if (/^\/(proc\/(self|\d+)|dev)\/(exe|fd\/\d+)$/.test(exe)) return "runc init";
  return basename(exe);
}
