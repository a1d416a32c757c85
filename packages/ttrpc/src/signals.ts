/**
 * Deadlines and cancellation for calls. A call ends early when the caller's AbortSignal
 * fires or its deadline passes; both paths clean up their listeners and timers when the
 * call ends, so long-lived signals (a connection's, a daemon's) do not accumulate them.
 */
import { Code } from "./code.js";
import { TtrpcError, canceledError, deadlineExceededError, isTtrpcError } from "./errors.js";

/** setTimeout's limit (2^31-1 ms, about 24.8 days); longer waits are re-armed. */
const MAX_TIMER_MS = 0x7fffffff;

export interface DeadlineOptions {
  /** Time allowed for the call, in ms from now. */
  readonly timeoutMs?: number | undefined;
  /** Instant the call must end by, in epoch ms. With `timeoutMs`, the earlier one wins. */
  readonly deadline?: number | undefined;
}

/** The effective deadline in epoch ms, or undefined for none. */
export function resolveDeadline(opts: DeadlineOptions, now = Date.now()): number | undefined {
  const fromTimeout = opts.timeoutMs === undefined ? undefined : now + opts.timeoutMs;
  if (fromTimeout === undefined) return opts.deadline;
  if (opts.deadline === undefined) return fromTimeout;
  return Math.min(fromTimeout, opts.deadline);
}

/**
 * The error a call fails with when `signal` aborts: the reason itself if it is already a
 * TtrpcError, DEADLINE_EXCEEDED for `AbortSignal.timeout()`, else CANCELLED.
 */
export function abortError(signal: AbortSignal): TtrpcError {
  const reason: unknown = signal.reason;
  if (isTtrpcError(reason)) return reason;
  if (reason instanceof Error && reason.name === "TimeoutError") {
    return new TtrpcError(Code.DeadlineExceeded, "context deadline exceeded", { cause: reason });
  }
  return canceledError(reason);
}

/** Runs `fire` at `deadline` (epoch ms); returns a function that cancels it. */
function onDeadline(deadline: number, fire: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const left = deadline - Date.now();
    if (left <= 0) {
      timer = undefined;
      fire();
      return;
    }
    timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    timer.unref();
  };
  arm();
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
}

/**
 * Calls `cancel` once, with the error the call should fail with, when `signal` aborts or
 * `deadline` passes (whichever is first). Returns a disposer to call when the call ends.
 * If either has already happened, `cancel` runs synchronously.
 */
export function watchCall(
  signal: AbortSignal | undefined,
  deadline: number | undefined,
  cancel: (err: TtrpcError) => void,
): () => void {
  let done = false;
  let clearTimer = (): void => {};
  const onAbort = (): void => finish(abortError(signal!));
  const dispose = (): void => {
    done = true;
    clearTimer();
    signal?.removeEventListener("abort", onAbort);
  };
  const finish = (err: TtrpcError): void => {
    if (done) return;
    dispose();
    cancel(err);
  };
  if (signal?.aborted) {
    finish(abortError(signal));
    return dispose;
  }
  signal?.addEventListener("abort", onAbort, { once: true });
  if (deadline !== undefined)
    clearTimer = onDeadline(deadline, () => finish(deadlineExceededError()));
  return dispose;
}

/**
 * A handler's signal: aborts when `parent` aborts (the connection closed), when the
 * deadline passes (reason: DEADLINE_EXCEEDED), or when the call ends (`dispose`).
 */
export function createCallSignal(
  parent: AbortSignal,
  deadline: number | undefined,
): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const stop = watchCall(parent, deadline, (err) => controller.abort(err));
  return {
    signal: controller.signal,
    dispose: () => {
      stop();
      if (!controller.signal.aborted) controller.abort(canceledError("call ended"));
    },
  };
}
