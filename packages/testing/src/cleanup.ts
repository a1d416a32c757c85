/**
 * A cleanup stack for tests that build things in layers (a directory, then a process in it,
 * then a mount): steps run last-registered first, like Go's `defer`, every step runs even
 * if an earlier one fails, and the failures are reported together. node:test runs its own
 * `t.after` hooks first-registered first, which is the wrong order for layered setup.
 */
import type { AfterHook } from "./temp-dir.js";

export interface Cleanup extends AfterHook {
  /** Registers `fn` to run at the end of the test, before the steps registered earlier. */
  after(fn: () => unknown): void;
  /** Runs the registered steps now (they run once). */
  run(): Promise<void>;
}

/** A cleanup stack that runs when `t` ends. Pass it where an {@link AfterHook} is taken. */
export function createCleanup(t: AfterHook): Cleanup {
  const steps: (() => unknown)[] = [];
  const cleanup: Cleanup = {
    after(fn) {
      steps.push(fn);
    },
    async run() {
      const errors: unknown[] = [];
      for (let step = steps.pop(); step !== undefined; step = steps.pop()) {
        try {
          await step();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, "cleanup failed");
    },
  };
  t.after(() => cleanup.run());
  return cleanup;
}
