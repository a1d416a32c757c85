/**
 * When nothing urgent runs: background work (making prepared networks) waits
 * for `quiet`, which resolves once no `busy` call has run for `quietMs` (the
 * calls of one pod come in a row: its start, then its container's create and
 * start), or once the gate is opened for good (at close).
 */
export class QuietGate {
  readonly #quietMs: number;
  #busy = 0;
  #isQuiet = true;
  #quiet: Promise<void> = Promise.resolve();
  #wake: () => void = () => undefined;
  #timer: NodeJS.Timeout | undefined;
  #open = false;

  constructor(quietMs: number) {
    this.#quietMs = quietMs;
  }

  /** Resolves when quiet (at once if it is). */
  get quiet(): Promise<void> {
    return this.#quiet;
  }

  async busy<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#busy++ === 0 && !this.#open) {
      clearTimeout(this.#timer);
      if (this.#isQuiet) {
        this.#isQuiet = false;
        this.#quiet = new Promise((resolve) => (this.#wake = resolve));
      }
    }
    try {
      return await fn();
    } finally {
      if (--this.#busy === 0 && !this.#open) {
        this.#timer = setTimeout(() => {
          if (this.#busy === 0) this.#settle();
        }, this.#quietMs);
        this.#timer.unref();
      }
    }
  }

  /** Quiet from now on, busy or not. */
  open(): void {
    this.#open = true;
    clearTimeout(this.#timer);
    this.#settle();
  }

  #settle(): void {
    this.#isQuiet = true;
    this.#wake();
  }
}
