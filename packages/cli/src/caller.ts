// Where sbx was run from: the caller's stdin, terminal, working directory and
// signals. Commands reach them only through a Caller, never through `process`:
// the Node CLI's caller is its own process (localCaller), and sandboxd's CLI
// server makes one per call from what sbx-client forwards (serve/call.ts).
import { resolve } from "node:path";
import type { Readable } from "node:stream";

/** Signals a caller passes on (Ctrl-C, kill, hang-up...), like ctr's ForwardAllSignals. */
export const callerSignals = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
] as const;
export type CallerSignal = (typeof callerSignals)[number];

export interface Caller {
  /** The caller's stdin (read only when a command asks for it). */
  readonly stdin: Readable;
  readonly stdinIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  /** The caller's working directory: relative paths in flags are resolved against it. */
  readonly cwd: string;
  /** The caller's terminal size, if its stdout is a terminal. */
  terminalSize(): { width: number; height: number } | undefined;
  /** Calls `onResize` whenever the terminal's size changes; returns the undo. */
  followResize(onResize: () => void): () => void;
  /** Puts the caller's terminal in raw mode (keys go on as typed); returns the undo. */
  rawTerminal(): () => void;
  /** Calls `handler` for each of `signals` the caller gets; returns the undo. */
  onSignals(signals: readonly CallerSignal[], handler: (signal: CallerSignal) => void): () => void;
  /** How the process running the command makes FIFOs, if better than a mkfifo(1) run. */
  readonly makeFifos?: ((paths: readonly string[]) => Promise<void>) | undefined;
}

/** A path from a flag, resolved against the caller's working directory. */
export function callerPath(caller: Caller, path: string): string {
  return resolve(caller.cwd, path);
}

/** This process as the caller (the Node CLI). */
export function localCaller(): Caller {
  return {
    get stdin() {
      return process.stdin;
    },
    get stdinIsTTY() {
      return process.stdin.isTTY === true;
    },
    get stderrIsTTY() {
      return process.stderr.isTTY === true;
    },
    cwd: process.cwd(),
    terminalSize() {
      const out = process.stdout;
      return out.isTTY ? { width: out.columns, height: out.rows } : undefined;
    },
    followResize(onResize) {
      const out = process.stdout;
      if (!out.isTTY) return () => undefined;
      out.on("resize", onResize);
      return () => out.off("resize", onResize);
    },
    rawTerminal() {
      const stdin = process.stdin;
      if (!stdin.isTTY) return () => undefined;
      stdin.setRawMode(true);
      return () => {
        if (stdin.isTTY) stdin.setRawMode(false);
      };
    },
    onSignals(signals, handler) {
      for (const s of signals) process.on(s, handler);
      return () => {
        for (const s of signals) process.off(s, handler);
      };
    },
  };
}
