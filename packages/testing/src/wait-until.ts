/**
 * Polling with a deadline: the one way tests wait for something to happen when there is
 * no event to wait on (no fixed sleeps).
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface WaitUntilOptions {
  /** Give up after this long (default 10 s). */
  readonly timeoutMs?: number;
  /** Time between checks (default 10 ms). */
  readonly intervalMs?: number;
  /** What is awaited, for the error message. */
  readonly what?: string;
}

/**
 * Calls `check` until it returns something other than `undefined`, `null` or `false`, and
 * returns that. Errors thrown by `check` propagate. Fails with a message naming `what`
 * (and the last value seen) once the deadline passes.
 */
export async function waitUntil<T>(
  check: () => T | Promise<T>,
  options: WaitUntilOptions = {},
): Promise<Exclude<T, undefined | null | false>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) {
      return value as Exclude<T, undefined | null | false>;
    }
    if (Date.now() >= until) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${options.what ?? "a condition"}`,
      );
    }
    await sleep(options.intervalMs ?? 10);
  }
}
