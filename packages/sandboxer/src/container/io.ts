/**
 * The stdio a client passes as FIFO paths, opened for the container without
 * ever blocking: opening one end of a FIFO blocks until the other end opens, and
 * containerd's cio opens its ends asynchronously (maybe after Create returns).
 * Every open here returns at once, so they run synchronously: nothing waits on
 * the event loop or occupies libuv's thread pool.
 *
 * - stdout/stderr go straight to the container: the FIFO is opened O_RDWR (on
 *   Linux that never blocks), and the container's own descriptor keeps the FIFO
 *   open, so its writes never fail with EPIPE before the client's reader
 *   arrives. The client sees EOF when the container (and whatever inherited the
 *   descriptor) is gone. These survive a sandboxer restart.
 * - stdin is copied, as containerd's runc shim does: the client's FIFO is
 *   opened O_RDONLY|O_NONBLOCK and watched with epoll, which reports nothing
 *   until a writer connects and data or a hang-up arrives, so there is no
 *   premature EOF and no blocked thread. The container reads a private FIFO of
 *   ours (made with mkfifo, unlinked once opened: a real pipe, not a socket);
 *   it sees EOF when the client closes its FIFO or calls CloseIO (or, as with a
 *   runc shim that dies, when the sandboxer goes away).
 */
import { closeSync, constants, openSync, readSync } from "node:fs";
import { rm } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import type { Stdio } from "../state/records.js";
import { mkfifo } from "@sandboxd/core";

export interface OpenedStdio {
  /** stdio for the spawned monitor (passed through to the container). */
  stdio: [number, number, number];
  /** The client's stdin FIFO (read end, non-blocking) and our write end of the container's. */
  stdinPump: { client: number; ours: number } | undefined;
  /** Closes what the child got (call once it is spawned). */
  closeChildFds(): void;
  /** Closes everything (the spawn failed). */
  closeAll(): void;
}

/** Opens the stdio of a process about to be spawned; `dir` holds the stdin FIFO briefly. */
export async function openStdio(stdio: Stdio, dir: string): Promise<OpenedStdio> {
  const opened: number[] = [];
  const mine: number[] = [];
  const open = (path: string, flags: number, list = opened): number => {
    const fd = openSync(path, flags);
    list.push(fd);
    return fd;
  };
  try {
    let stdinPump: OpenedStdio["stdinPump"];
    let stdin: number;
    if (stdio.stdin) {
      const client = open(stdio.stdin, constants.O_RDONLY | constants.O_NONBLOCK, mine);
      const fifo = join(dir, "stdin.fifo");
      await rm(fifo, { force: true });
      await mkfifo(fifo, 0o600);
      // O_RDWR first: a writer exists, so the container's O_RDONLY open does not block.
      const ours = open(fifo, constants.O_RDWR, mine);
      stdin = open(fifo, constants.O_RDONLY);
      await rm(fifo, { force: true });
      stdinPump = { client, ours };
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
      stdio: [stdin, stdout, stderr],
      stdinPump,
      closeChildFds: () => {
        for (const fd of new Set(opened)) closeQuietly(fd);
      },
      closeAll: () => {
        for (const fd of new Set([...opened, ...mine])) closeQuietly(fd);
      },
    };
  } catch (err) {
    for (const fd of [...opened, ...mine]) closeQuietly(fd);
    throw err;
  }
}

/** Copies the client's stdin FIFO into the container's stdin until EOF, CloseIO or exit. */
export class StdinPump {
  readonly #source: net.Socket;
  readonly #sink: net.Socket;
  readonly #clientFd: number;
  #closed = false;

  constructor(fds: { client: number; ours: number }) {
    this.#clientFd = fds.client;
    this.#source = new net.Socket({ fd: fds.client, readable: true, writable: false });
    this.#sink = new net.Socket({ fd: fds.ours, readable: false, writable: true });
    this.#source.on("error", () => this.close());
    this.#sink.on("error", () => this.#sink.destroy());
    this.#source.on("end", () => this.close());
    this.#source.pipe(this.#sink, { end: false });
  }

  /** Ends the container's stdin once what the client wrote is passed on (EOF for the process). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#source.unpipe(this.#sink);
    // A client writes, closes its end, then calls CloseIO: the data can still sit in the FIFO
    // (or in the stream's buffer) when CloseIO arrives. Pass it on before the EOF.
    let buffered: Buffer | null;
    while ((buffered = this.#source.read() as Buffer | null) !== null) this.#sink.write(buffered);
    for (const chunk of drainNonBlocking(this.#clientFd)) this.#sink.write(chunk);
    this.#source.destroy();
    // A FIFO cannot be half-closed: closing our descriptor is the EOF.
    if (this.#sink.writableLength === 0) this.#sink.destroy();
    else this.#sink.once("drain", () => this.#sink.destroy());
  }

  /** Drops pending input too (the process is gone). */
  destroy(): void {
    this.close();
    this.#sink.destroy();
  }
}

/** What a non-blocking descriptor has to read right now (until EOF or EAGAIN). */
function drainNonBlocking(fd: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (;;) {
    const buf = Buffer.allocUnsafe(65536);
    let n: number;
    try {
      n = readSync(fd, buf);
    } catch {
      return chunks; // EAGAIN: the client's writer is still open and has sent nothing more
    }
    if (n === 0) return chunks;
    chunks.push(buf.subarray(0, n));
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
