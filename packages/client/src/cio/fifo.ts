// FIFOs without blocking the event loop or libuv's threadpool: every open is
// O_NONBLOCK (which never waits for the other side on Linux), and the fds are
// wrapped in net.Socket, which reads and writes pipes through epoll.
import { close, constants, open } from "node:fs";
import { Socket } from "node:net";
import { promisify } from "node:util";

const openAsync = promisify(open);
const closeAsync = promisify(close);

/** Creates the FIFOs at `paths` (mode 0600) with one `mkfifo` run: Node has no mkfifo(3). */
export async function mkfifos(paths: readonly string[]): Promise<void> {
  if (paths.length === 0) return;
  // node:child_process on first use: commands that attach no IO never load it.
  const { execFile } = await import("node:child_process");
  await promisify(execFile)("mkfifo", ["-m", "0600", "--", ...paths]);
}

/**
 * Opens a FIFO for reading. Returns the reading socket and a placeholder
 * writer: while the placeholder is open the reader never sees EOF, even
 * before the other side has opened its end. Closing it lets EOF through once
 * every real writer has closed.
 */
export async function openFifoReader(
  path: string,
): Promise<{ socket: Socket; placeholder: number }> {
  const placeholder = await openAsync(path, constants.O_RDWR | constants.O_NONBLOCK);
  try {
    const fd = await openAsync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    return { socket: new Socket({ fd, readable: true, writable: false }), placeholder };
  } catch (err) {
    await closeAsync(placeholder);
    throw err;
  }
}

/**
 * Opens a FIFO for writing once a reader has it open, without blocking:
 * O_WRONLY|O_NONBLOCK fails with ENXIO while there is no reader, so it is
 * retried (1 ms, doubling to 50 ms) until the peer opens its end or `stop`
 * aborts (then undefined). Input written this way is never lost in a FIFO
 * nobody reads, and closing the socket gives the reader EOF. (A shim opens the
 * stdin FIFO of an exec only when the exec starts, not when it is created.)
 */
export async function openFifoWriterWhenRead(
  path: string,
  stop: AbortSignal,
): Promise<Socket | undefined> {
  let delayMs = 1;
  while (!stop.aborted) {
    try {
      const fd = await openAsync(path, constants.O_WRONLY | constants.O_NONBLOCK);
      if (stop.aborted) {
        await closeFd(fd);
        return undefined;
      }
      return new Socket({ fd, readable: false, writable: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENXIO") throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(delayMs * 2, 50);
  }
  return undefined;
}

/** Closes a raw fd, ignoring an fd that is already closed. */
export async function closeFd(fd: number): Promise<void> {
  try {
    await closeAsync(fd);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EBADF") throw err;
  }
}
