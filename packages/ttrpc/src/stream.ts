import type { Channel } from "./channel.js";

/**
 * The receive side of a stream: a bounded queue that the connection pushes messages
 * into and one consumer reads as an async iterator. Reaching the high-water mark calls
 * `onFull`, so the connection can stop reading its socket; taking the queue back below
 * it calls `onDrain`. Go's ttrpc buffers 64 messages per stream the same way.
 */

/** Messages a stream buffers before its connection stops reading (Go: 64). */
const STREAM_HIGH_WATER_MARK = 64;

export interface QueueHooks {
  onFull?(): void;
  onDrain?(): void;
  /** The consumer stopped early (`break` out of `for await`, or `return()`). */
  onReturn?(): void;
}

export class MessageQueue<T> implements AsyncIterableIterator<T> {
  readonly #items: T[] = [];
  readonly #highWaterMark: number;
  readonly #hooks: QueueHooks;
  #ended = false;
  #error: { readonly value: unknown } | undefined;
  #returned = false;
  #full = false;
  #waiter: { resolve(r: IteratorResult<T>): void; reject(e: unknown): void } | undefined;

  constructor(highWaterMark = STREAM_HIGH_WATER_MARK, hooks: QueueHooks = {}) {
    this.#highWaterMark = highWaterMark;
    this.#hooks = hooks;
  }

  /** Whether nothing more will be accepted (ended, failed, or the consumer left). */
  get closed(): boolean {
    return this.#ended || this.#error !== undefined || this.#returned;
  }

  get length(): number {
    return this.#items.length;
  }

  /** Adds a message; returns false (and drops it) once the queue is closed. */
  push(item: T): boolean {
    if (this.closed) return false;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter.resolve({ value: item, done: false });
      return true;
    }
    this.#items.push(item);
    if (!this.#full && this.#items.length >= this.#highWaterMark) {
      this.#full = true;
      this.#hooks.onFull?.();
    }
    return true;
  }

  /** No more messages: the consumer sees the end after the buffered ones. */
  end(): void {
    if (this.closed) return;
    this.#ended = true;
    this.#settleWaiter();
  }

  /** The stream failed: the consumer gets `err` after the buffered messages. */
  fail(err: unknown): void {
    if (this.closed) return;
    this.#error = { value: err };
    this.#settleWaiter();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#returned) return Promise.resolve({ value: undefined, done: true });
    if (this.#items.length > 0) {
      const value = this.#items.shift()!;
      if (this.#full && this.#items.length < this.#highWaterMark) {
        this.#full = false;
        this.#hooks.onDrain?.();
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#error !== undefined) {
      const err = this.#error.value;
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    if (this.#waiter !== undefined) {
      return Promise.reject(new Error("ttrpc: a stream has a single reader at a time"));
    }
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    const wasOpen = !this.closed;
    this.#returned = true;
    this.#items.length = 0;
    if (this.#full) {
      this.#full = false;
      this.#hooks.onDrain?.();
    }
    this.#settleWaiter();
    if (wasOpen) this.#hooks.onReturn?.();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #settleWaiter(): void {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    this.#waiter = undefined;
    if (this.#error !== undefined && !this.#returned) {
      const err = this.#error.value;
      waiter.reject(err instanceof Error ? err : new Error(String(err)));
    } else {
      waiter.resolve({ value: undefined, done: true });
    }
  }
}

/** How long a full stream may hold its connection before it is failed (Go: 1 s). */
const STREAM_FULL_TIMEOUT_MS = 1000;

/**
 * Queue hooks that pause `channel` while the queue is full. If the consumer takes nothing
 * for {@link STREAM_FULL_TIMEOUT_MS}, `onStuck` runs (it should fail the stream) and the
 * channel resumes, so one abandoned stream cannot stall every other stream on the
 * connection (Go's `ErrStreamFull`). `dispose` releases the channel for good.
 */
export function holdWhileFull(
  channel: Channel,
  onStuck: () => void,
): { readonly onFull: () => void; readonly onDrain: () => void; readonly dispose: () => void } {
  const key = {};
  let timer: NodeJS.Timeout | undefined;
  const release = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    channel.release(key);
  };
  return {
    onFull: () => {
      channel.hold(key);
      timer = setTimeout(() => {
        release();
        onStuck();
      }, STREAM_FULL_TIMEOUT_MS);
      timer.unref();
    },
    onDrain: release,
    dispose: release,
  };
}
