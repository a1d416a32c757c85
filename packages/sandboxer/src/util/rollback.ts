/**
 * Undo steps for a multi-step operation: each successful step records how to
 * undo itself; if a later step fails, the recorded steps run in reverse under a
 * detached context (a cancelled request still cleans up), and a failing undo
 * step is logged without hiding the original error.
 */
import type { Ctx } from "@sandboxd/core";
import { detached } from "@sandboxd/core";

type Step = { name: string; undo: (ctx: Ctx) => Promise<void> | void };

export class Rollback {
  readonly #steps: Step[] = [];

  add(name: string, undo: (ctx: Ctx) => Promise<void> | void): void {
    this.#steps.push({ name, undo });
  }

  /** Forget the steps: the operation succeeded. */
  commit(): void {
    this.#steps.length = 0;
  }

  async run(ctx: Ctx): Promise<void> {
    const { ctx: cleanup, done } = detached(ctx, 30_000);
    try {
      for (const step of this.#steps.reverse()) {
        try {
          await step.undo(cleanup);
        } catch (err) {
          cleanup.log.warn({ error: err, step: step.name }, "rollback step failed");
        }
      }
    } finally {
      this.#steps.length = 0;
      done();
    }
  }
}

/** Runs `fn` with a Rollback; on error, undoes what was done and rethrows. */
export async function withRollback<T>(ctx: Ctx, fn: (undo: Rollback) => Promise<T>): Promise<T> {
  const undo = new Rollback();
  try {
    const result = await fn(undo);
    undo.commit();
    return result;
  } catch (err) {
    await undo.run(ctx);
    throw err;
  }
}
