/**
 * The shim's log FIFO (`<bundle>/log`): created before `start` and opened
 * read-write and non-blocking, as containerd does, so the shim's open for
 * writing never blocks and the reader never sees EOF while the shim lives.
 * Each line becomes a daemon log entry with the task's fields.
 *
 * Node has no mkfifo(3), so the FIFO is made with coreutils' `mkfifo`.
 */
import { execFile } from "node:child_process";
import { constants, open } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import net from "node:net";
import { promisify } from "node:util";
import type { Logger } from "@sandboxd/core";

const execFileAsync = promisify(execFile);
const openFd = promisify(open);

export interface ShimLog {
  close(): void;
}

export async function makeFifo(...paths: string[]): Promise<void> {
  await execFileAsync("mkfifo", ["-m", "0700", ...paths]);
}

/**
 * FIFOs made ahead of time, off the request path: a task create renames one
 * into its bundle (same filesystem) instead of waiting for `mkfifo`. The pool
 * refills in the background, several per `mkfifo` run.
 */
export class FifoPool {
  readonly #dir: string;
  readonly #batch: number;
  readonly #ready: string[] = [];
  #refilling: Promise<void> | undefined;
  #next = 0;

  constructor(dir: string, batch = 16) {
    this.#dir = dir;
    this.#batch = batch;
  }

  /** Empties the pool directory (FIFOs left by a previous run) and fills it. */
  async init(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true });
    // The parent is the runtime's state dir, which holds the bundles: 0711 as containerd
    // has it, so that a container's root in a user namespace can reach its rootfs.
    await mkdir(dirname(this.#dir), { recursive: true, mode: 0o711 });
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    this.#refill();
    await this.#refilling;
  }

  /** Puts a FIFO at `path`: a pooled one if there is one, else a new one. */
  async take(path: string): Promise<void> {
    const pooled = this.#ready.shift();
    if (this.#ready.length < this.#batch / 2) this.#refill();
    if (pooled !== undefined) {
      try {
        await rename(pooled, path);
        return;
      } catch {
        // Fall through: make one in place.
      }
    }
    await makeFifo(path);
  }

  #refill(): void {
    if (this.#refilling) return;
    const paths = Array.from({ length: this.#batch }, () =>
      join(this.#dir, `fifo-${this.#next++}`),
    );
    this.#refilling = makeFifo(...paths)
      .then(
        () => void this.#ready.push(...paths),
        () => undefined,
      )
      .finally(() => (this.#refilling = undefined));
  }
}

/** Opens an existing FIFO and copies its lines to `log` until closed. */
export async function openShimLog(path: string, log: Logger): Promise<ShimLog> {
  // A raw fd (not a FileHandle): the socket owns it and closes it.
  const fd = await openFd(path, constants.O_RDWR | constants.O_NONBLOCK);
  const socket = new net.Socket({ fd, readable: true, writable: false });
  let rest = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") logLine(log, line);
  });
  socket.on("error", () => undefined);
  return {
    close() {
      if (rest.trim() !== "") logLine(log, rest);
      rest = "";
      socket.destroy();
    },
  };
}

/**
 * One line of shim output at the level the shim gave it (logrus text
 * `level=...` or JSON `"level":"..."`). The shim's info chatter (plugin
 * loading, signal loop) goes to debug: a daemon at info logs what needs
 * attention, not every shim start.
 */
function logLine(log: Logger, line: string): void {
  const level = /\blevel=(\w+)|"level":"(\w+)"/.exec(line);
  switch (level?.[1] ?? level?.[2] ?? "") {
    case "panic":
    case "fatal":
    case "error":
      log.error({ shim_log: true }, line);
      break;
    case "warning":
    case "warn":
      log.warn({ shim_log: true }, line);
      break;
    case "trace":
      log.trace({ shim_log: true }, line);
      break;
    default:
      log.debug({ shim_log: true }, line);
  }
}
