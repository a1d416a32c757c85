// FIFOs without blocking the event loop or libuv's threadpool: every open is
// O_NONBLOCK (which never waits for the other side on Linux), and the fds are
// wrapped in net.Socket, which reads and writes pipes through epoll.
import { execFile } from "node:child_process";
import { close, constants, open } from "node:fs";
import { Socket } from "node:net";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const openAsync = promisify(open);
const closeAsync = promisify(close);

/** Creates the FIFOs at `paths` (mode 0600) with one `mkfifo` run: Node has no mkfifo(3). */
export async function mkfifos(paths: readonly string[]): Promise<void> {
  if (paths.length === 0) return;
  await execFileAsync("mkfifo", ["-m", "0600", "--", ...paths]);
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
 * Opens a FIFO for writing. O_RDWR makes the open succeed without a reader and
 * keeps writes from failing with EPIPE until the other side opens; closing
 * the socket (end()) gives the reader EOF.
 */
export async function openFifoWriter(path: string): Promise<Socket> {
  const fd = await openAsync(path, constants.O_RDWR | constants.O_NONBLOCK);
  return new Socket({ fd, readable: false, writable: true });
}

/** Closes a raw fd, ignoring an fd that is already closed. */
export async function closeFd(fd: number): Promise<void> {
  try {
    await closeAsync(fd);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EBADF") throw err;
  }
}
