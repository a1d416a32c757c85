// The plumbing of an attached process: raw terminal, window size, signals.
import type { Signal } from "@sandboxd/client";

/** Signals passed on to the container (Ctrl-C, kill, hang-up...), like ctr's ForwardAllSignals. */
const forwarded: readonly NodeJS.Signals[] = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
];

/** Puts the terminal in raw mode (keys go to the container as typed); returns the undo. */
export function rawTerminal(): () => void {
  const stdin = process.stdin;
  if (!stdin.isTTY) return () => undefined;
  stdin.setRawMode(true);
  return () => {
    if (stdin.isTTY) stdin.setRawMode(false);
  };
}

/** The terminal's size, if stdout is one. */
export function terminalSize(): { width: number; height: number } | undefined {
  const out = process.stdout;
  return out.isTTY ? { width: out.columns, height: out.rows } : undefined;
}

/** Calls `resize` now and on every SIGWINCH; returns the undo. */
export function followResize(resize: (width: number, height: number) => Promise<void>): () => void {
  const out = process.stdout;
  if (!out.isTTY) return () => undefined;
  const onResize = (): void => {
    // A resize that races the exit is harmless.
    resize(out.columns, out.rows).catch(() => undefined);
  };
  onResize();
  out.on("resize", onResize);
  return () => out.off("resize", onResize);
}

/** Signals that ask the process to end: a second one of them kills it. */
const ending: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM"];

/**
 * Forwards signals sbx receives to `kill`; returns the undo. A container's
 * PID 1 gets only the signals it handles (`sleep` as PID 1 ignores SIGTERM),
 * so a second SIGINT/SIGTERM sends SIGKILL, which is never ignored.
 */
export function forwardSignals(kill: (signal: Signal) => Promise<void>): () => void {
  let endings = 0;
  const handlers = forwarded.map((signal) => {
    const handler = (): void => {
      let send: Signal = signal;
      if (ending.includes(signal)) {
        endings++;
        if (endings > 1) send = "SIGKILL";
        else if (process.stderr.isTTY)
          process.stderr.write(`sbx: ${signal} passed on; again to kill it (SIGKILL)\n`);
      }
      kill(send).catch(() => undefined);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

/** Whether to connect stdin: asked for, a terminal, or piped/redirected input. */
export function wantsStdin(tty: boolean, interactive: boolean): boolean {
  return tty || interactive || !process.stdin.isTTY;
}
