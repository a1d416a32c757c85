/**
 * The stdio a client passes as FIFO paths, opened for the container without
 * ever blocking: opening one end of a FIFO blocks until the other end opens, and
 * containerd's cio opens its ends asynchronously (maybe after Create returns).
 *
 * - stdout/stderr are opened O_RDWR: on Linux that never blocks, and the
 *   container's own descriptor keeps the FIFO open, so its writes never fail
 *   with EPIPE before the client's reader arrives. The client sees EOF when the
 *   container (and everything that inherited the descriptor) is gone.
 * - stdin is opened O_RDWR by the sandboxer (a writer, so the next open does not
 *   block) and then O_RDONLY for the container. The container gets EOF when the
 *   client closes its end after CloseIO released ours.
 *
 * Node opens every descriptor close-on-exec; spawn dup2()s the ones it passes.
 * Both opens return at once, so they run synchronously: nothing waits on the
 * event loop or occupies libuv's thread pool.
 */
import { closeSync, constants, openSync } from "node:fs";
import type { Stdio } from "../state/records.js";

export interface OpenedStdio {
  /** Descriptors for the child (conmon passes them through to the container). */
  fds: [number, number, number];
  /** Our write end of stdin, held until CloseIO or exit. */
  stdinHolder: number | undefined;
  /** Closes what the child got (call once it is spawned); the holder stays. */
  closeChildFds(): void;
}

export function openStdio(stdio: Stdio): OpenedStdio {
  const opened: number[] = [];
  const open = (path: string, flags: number): number => {
    const fd = openSync(path, flags);
    opened.push(fd);
    return fd;
  };
  try {
    let stdinHolder: number | undefined;
    let stdin: number;
    if (stdio.stdin) {
      stdinHolder = openSync(stdio.stdin, constants.O_RDWR);
      try {
        stdin = open(stdio.stdin, constants.O_RDONLY);
      } catch (err) {
        closeSync(stdinHolder);
        throw err;
      }
    } else {
      stdin = open("/dev/null", constants.O_RDONLY);
    }
    const stdout = open(
      stdio.stdout || "/dev/null",
      stdio.stdout ? constants.O_RDWR : constants.O_WRONLY,
    );
    const stderr =
      stdio.stderr && stdio.stderr !== stdio.stdout
        ? open(stdio.stderr, constants.O_RDWR)
        : stdio.stderr
          ? stdout
          : open("/dev/null", constants.O_WRONLY);
    return {
      fds: [stdin, stdout, stderr],
      stdinHolder,
      closeChildFds: () => {
        for (const fd of new Set(opened)) closeQuietly(fd);
      },
    };
  } catch (err) {
    for (const fd of opened) closeQuietly(fd);
    throw err;
  }
}

export function closeQuietly(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
