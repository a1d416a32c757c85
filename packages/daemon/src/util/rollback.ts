/**
 * Undo steps for a multi-step operation (the TS form of Go's
 * `defer func() { if err != nil { undo() } }()`): push an undo after each
 * step that succeeded; on failure `run` undoes them in reverse order under a
 * detached context, so a cancelled request still cleans up after itself.
 */
import { detached, type Ctx } from "@sandboxd/core";

/** An undo step; a returned promise is awaited. */
type Undo = (ctx: Ctx) => unknown;

export class Rollback {
  readonly #steps: { what: string; undo: Undo }[] = [];

  push(what: string, undo: Undo): void {
    this.#steps.push({ what, undo });
  }

  /** Forgets the steps (the operation succeeded). */
  clear(): void {
    this.#steps.length = 0;
  }

  /** Undoes every step, newest first; failures are logged and do not stop the others. */
  async run(ctx: Ctx): Promise<void> {
    const { ctx: cleanup, done } = detached(ctx);
    try {
      for (const { what, undo } of this.#steps.reverse()) {
        try {
          await undo(cleanup);
        } catch (err) {
          ctx.log.warn({ error: err }, `rollback: ${what} failed`);
        }
      }
    } finally {
      this.#steps.length = 0;
      done();
    }
  }
}
