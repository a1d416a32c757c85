/**
 * Starting a created container the way `runc start` does, without a runc
 * process (a Go start-up of ~5 ms on every container start).
 *
 * `runc create` leaves the container's init blocked in open(2) of
 * `<root>/<id>/exec.fifo` for writing; once a reader opens the FIFO, init writes
 * one byte and execs the user's process. `runc start` is that reader: it reads
 * the byte and removes the FIFO, which is how runc itself tells "created" from
 * "running" afterwards. Here the FIFO is read through a non-blocking pipe handle
 * on the event loop (never a threadpool thread stuck in open(2)): no byte comes
 * until init opens its end, and if init dies first the caller's `gone` ends the
 * wait, as runc start's own poll of the init pid does.
 */
import { constants, openSync, readSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { Socket } from "node:net";
import { join } from "node:path";
import type { Ctx } from "@sandboxd/core";
import { failedPrecondition, unknown as unknownError } from "@sandboxd/errdefs";

export const execFifoName = "exec.fifo";

/**
 * Lets the created container `id` run. Resolves false when there is no exec
 * FIFO (another runtime, or not created by runc): the caller runs `runc start`,
 * which has the authoritative error.
 */
export async function releaseInit(
  ctx: Ctx,
  runcRoot: string,
  id: string,
  gone: Promise<unknown>,
): Promise<boolean> {
  const fifo = join(runcRoot, id, execFifoName);
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO's read end opens at once, writer or not (libuv adds O_CLOEXEC).
    fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw unknownError(`start ${id}: open ${fifo}`, { cause: err });
  }
  // The pipe handle owns the descriptor from here on and closes it when destroyed.
  const pipe = new Socket({ fd, readable: true, writable: false });
  try {
    await new Promise<void>((resolve, reject) => {
      // Once settled, nothing may touch `fd` again: it is closed below, and its number reused.
      let waiting = true;
      const done = (err?: Error): void => {
        if (!waiting) return;
        waiting = false;
        ctx.signal.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => done(unknownError(`start ${id}: cancelled`));
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      if (ctx.signal.aborted) onAbort();
      pipe.once("data", () => done());
      pipe.once("end", () =>
        done(failedPrecondition(`start ${id}: cannot start an already running container`)),
      );
      pipe.once("error", (err) => done(unknownError(`start ${id}: read ${fifo}`, { cause: err })));
      // An exit learned before the pipe's read event: init wrote its byte before it exec'd
      // (and so before any exit), so the byte is in the pipe if init got that far.
      gone.then(
        () => {
          if (!waiting) return;
          if (wroteByte(fd)) done();
          else done(failedPrecondition(`start ${id}: container process is already dead`));
        },
        () => undefined,
      );
    });
  } finally {
    pipe.destroy();
  }
  await unlink(fifo).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw unknownError(`start ${id}: remove ${fifo}`, { cause: err });
  });
  return true;
}

function wroteByte(fd: number): boolean {
  try {
    return readSync(fd, Buffer.alloc(1)) > 0;
  } catch {
    return false;
  }
}
