/**
 * Undo steps for a multi-step operation (the TS form of Go's
 * `defer func() { if err != nil { undo() } }()`, and of containerd's
 * Server.Stop closing plugins in reverse): push an undo after each step that
 * succeeded; on failure `run` undoes them newest first under a detached
 * context, so a cancelled request still cleans up after itself. Every step
 * runs even when an earlier one throws; their errors are logged and returned
 * together, never hiding the operation's own error.
 */
import { detached, type Ctx } from "../context/context.js";

/** An undo step; a returned promise is awaited. */
export type Undo = (ctx: Ctx) => unknown;

export class Rollback {
  readonly #steps: { what: string; undo: Undo }[] = [];

  /** Records how to undo a step that just succeeded. */
  push(what: string, undo: Undo): void {
    this.#steps.push({ what, undo });
  }

  /** Forgets the steps (the operation succeeded). */
  clear(): void {
    this.#steps.length = 0;
  }

  get size(): number {
    return this.#steps.length;
  }

  /**
   * Undoes every step, newest first, each isolated from the others' failures.
   * Resolves with an AggregateError of the failed steps (logged too), or
   * undefined when all succeeded; never rejects.
   */
  async run(ctx: Ctx, timeoutMs = 30_000): Promise<AggregateError | undefined> {
    const steps = this.#steps.splice(0).reverse();
    const { ctx: cleanup, done } = detached(ctx, timeoutMs);
    const errors: unknown[] = [];
    try {
      for (const { what, undo } of steps) {
        try {
          await undo(cleanup);
        } catch (err) {
          errors.push(err);
          cleanup.log.warn({ error: err, step: what }, `rollback: ${what} failed`);
        }
      }
    } finally {
      done();
    }
    return errors.length > 0 ? new AggregateError(errors, "rollback failed") : undefined;
  }
}

/** Runs `fn` with a Rollback; on error, undoes what was done and rethrows the error. */
export async function withRollback<T>(ctx: Ctx, fn: (undo: Rollback) => Promise<T>): Promise<T> {
  const undo = new Rollback();
  try {
    const result = await fn(undo);
    undo.clear();
    return result;
  } catch (err) {
    await undo.run(ctx);
    throw err;
  }
}
