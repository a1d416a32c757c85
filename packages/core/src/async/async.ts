/**
 * Small async mechanics every package needs, written once: an abortable
 * sleep, racing a promise against an AbortSignal without leaking the
 * listener (undici's addAbortListener, on node:events), per-key
 * serialisation and bounded concurrency.
 */
import { addAbortListener } from "node:events";

/**
 * Waits `ms`, or less when `signal` fires. Never rejects: resolves true when
 * the full time passed, false when the wait was cut short by the signal.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => {
      listener?.[Symbol.dispose]();
      resolve(true);
    }, ms);
    if (!signal) timer.unref?.();
    const listener = signal
      ? addAbortListener(signal, () => {
          clearTimeout(timer);
          resolve(false);
        })
      : undefined;
  });
}

/**
 * `promise`, or a rejection with the signal's reason when it fires first. The
 * abort listener is removed as soon as either settles, so a long-lived
 * signal does not collect listeners.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const listener = addAbortListener(signal, () => reject(abortReason(signal)));
    promise.then(
      (value) => {
        listener[Symbol.dispose]();
        resolve(value);
      },
      (err: unknown) => {
        listener[Symbol.dispose]();
        reject(err instanceof Error ? err : new Error(String(err), { cause: err }));
      },
    );
  });
}

/** A signal's reason as an Error (an AbortError when it holds none). */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const text = typeof reason === "string" ? reason : "This operation was aborted";
  return new DOMException(text, "AbortError");
}

/** Serialises async work per key (a sandbox, a container), without blocking other keys. */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** True while work for `key` runs or waits. */
  busy(key: string): boolean {
    return this.#tails.has(key);
  }
}

/** Runs at most `limit` of `items` at once; resolves with every outcome (never rejects). */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: "fulfilled", value: await fn(items[i] as T, i) };
      } catch (reason) {
        results[i] = { status: "rejected", reason };
      }
    }
  };
  const workers = Math.max(1, Math.min(limit, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}
