// The plumbing of an attached process: raw terminal, window size, signals.
import type { IOCreator, Signal, withStreams } from "@sandboxd/client";
import { callerSignals } from "../caller.js";
import type { Caller, CallerSignal } from "../caller.js";
import type { Context } from "../context.js";

/** Calls `resize` now and whenever the caller's terminal changes size; returns the undo. */
export function followResize(
  caller: Caller,
  resize: (width: number, height: number) => Promise<void>,
): () => void {
  if (!caller.terminalSize()) return () => undefined;
  const onResize = (): void => {
    const size = caller.terminalSize();
    // A resize that races the exit is harmless.
    if (size) resize(size.width, size.height).catch(() => undefined);
  };
  onResize();
  return caller.followResize(onResize);
}

/** Signals that ask the process to end: a second one of them kills it. */
const ending: readonly CallerSignal[] = ["SIGINT", "SIGTERM"];

/**
 * Forwards signals the caller gets to `kill`; returns the undo. A container's
 * PID 1 gets only the signals it handles (`sleep` as PID 1 ignores SIGTERM),
 * so a second SIGINT/SIGTERM sends SIGKILL, which is never ignored.
 */
export function forwardSignals(
  caller: Caller,
  stderr: NodeJS.WritableStream,
  kill: (signal: Signal) => Promise<void>,
): () => void {
  let endings = 0;
  return caller.onSignals(callerSignals, (signal) => {
    let send: Signal = signal;
    if (ending.includes(signal)) {
      endings++;
      if (endings > 1) send = "SIGKILL";
      else if (caller.stderrIsTTY)
        stderr.write(`sbx: ${signal} passed on; again to kill it (SIGKILL)\n`);
    }
    kill(send).catch(() => undefined);
  });
}

/** Whether to connect stdin: asked for, a terminal, or piped/redirected input. */
export function wantsStdin(caller: Caller, tty: boolean, interactive: boolean): boolean {
  return tty || interactive || !caller.stdinIsTTY;
}

/** The IO of an attached process: the caller's stdin (when wanted) and sbx's stdout and stderr. */
export function callerIO(
  ctx: Context,
  sdk: { withStreams: typeof withStreams },
  tty: boolean,
  interactive: boolean,
): IOCreator {
  return sdk.withStreams(
    {
      stdin: wantsStdin(ctx.caller, tty, interactive) ? ctx.caller.stdin : undefined,
      stdout: ctx.stdout,
      stderr: ctx.stderr,
    },
    { terminal: tty, makeFifos: ctx.caller.makeFifos },
  );
}
