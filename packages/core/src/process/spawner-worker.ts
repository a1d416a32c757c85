/**
 * The spawner's worker thread: it calls child_process.spawn, whose fork and
 * wait for the child's exec block the calling thread, so that the caller's
 * event loop does not. It owns the ChildProcess objects (its loop reaps them)
 * and reports what they do as messages.
 *
 * `spawnerWorker` runs as source text (`String(spawnerWorker)`) in a worker
 * started with `eval: true`: the bundled executables have no module file to
 * start it from. It may therefore use only its parameters and globals.
 */
import type * as ChildProcesses from "node:child_process";
import type { MessagePort } from "node:worker_threads";

/** One descriptor of the child: a pipe the worker reads or writes, nothing, or one of ours. */
export type StdioEntry = "pipe" | "ignore" | number;

export type ToWorker =
  | {
      t: "spawn";
      id: number;
      file: string;
      args: string[];
      env: Record<string, string>;
      cwd: string | undefined;
      detached: boolean;
      stdio: StdioEntry[];
      /** Written to a piped stdin, which is then closed. */
      input: Uint8Array | string;
    }
  | { t: "kill"; id: number; signal: NodeJS.Signals };

export type FromWorker =
  | { t: "spawn"; id: number; pid: number }
  | { t: "error"; id: number; message: string }
  | { t: "data"; id: number; fd: 1 | 2; data: Uint8Array }
  | { t: "exit" | "close"; id: number; code: number | null; signal: NodeJS.Signals | null };

export function spawnerWorker(cp: typeof ChildProcesses, port: MessagePort): void {
  const children = new Map<number, ChildProcesses.ChildProcess>();
  const post = (m: FromWorker): void => port.postMessage(m);
  const start = (m: Extract<ToWorker, { t: "spawn" }>): void => {
    let child: ChildProcesses.ChildProcess;
    try {
      child = cp.spawn(m.file, m.args, {
        stdio: m.stdio,
        env: m.env,
        cwd: m.cwd,
        detached: m.detached,
      });
    } catch (err) {
      post({ t: "error", id: m.id, message: err instanceof Error ? err.message : String(err) });
      return;
    }
    children.set(m.id, child);
    let failed = false;
    child.once("spawn", () => post({ t: "spawn", id: m.id, pid: child.pid ?? 0 }));
    child.once("error", (err) => {
      // After a failed start Node may still report a close; the caller has its answer.
      failed = true;
      children.delete(m.id);
      post({ t: "error", id: m.id, message: err.message });
    });
    child.stdout?.on("data", (d: Buffer) => post({ t: "data", id: m.id, fd: 1, data: d }));
    child.stderr?.on("data", (d: Buffer) => post({ t: "data", id: m.id, fd: 2, data: d }));
    child.once("exit", (code, signal) => {
      if (!failed) post({ t: "exit", id: m.id, code, signal });
    });
    child.once("close", (code, signal) => {
      children.delete(m.id);
      if (!failed) post({ t: "close", id: m.id, code, signal });
    });
    if (child.stdin) {
      // The program may exit without reading its input; its exit says what happened.
      child.stdin.on("error", () => undefined);
      child.stdin.end(m.input);
    }
  };
  port.on("message", (m: ToWorker) => {
    if (m.t === "spawn") start(m);
    else {
      const child = children.get(m.id);
      // Not once it was reaped: its pid may belong to another process by now.
      if (child && child.exitCode === null && child.signalCode === null) child.kill(m.signal);
    }
  });
}
