// Task IO, like containerd's cio: a FIFO set in a directory, whose paths go to
// Tasks.Create / Exec, copied to and from the caller's streams.
import { once } from "node:events";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { invalidArgument } from "@sandboxd/errdefs";
import { closeFd, mkfifos, openFifoReader, openFifoWriterWhenRead } from "./fifo.js";

/** The paths the shim opens for a process's stdio ("" = none, /dev/null). */
export interface IOConfig {
  stdin: string;
  stdout: string;
  stderr: string;
  /** One terminal: stdout carries both output streams and stderr is "". */
  terminal: boolean;
}

/** The IO of one process, as the SDK drives it. */
export interface TaskIO {
  /** What to put in Tasks.Create / Exec. */
  readonly config: IOConfig;
  /**
   * The process was created: input may flow once the shim opens its end.
   * `closeStdin` asks the shim to close the process's stdin (Tasks.CloseIO):
   * shims keep their own writer on the stdin FIFO, so EOF on the FIFO alone
   * does not reach the process. It is called once input has ended.
   */
  started(closeStdin?: () => Promise<void>): void;
  /** The process exited: let output reach EOF; resolves once all of it was copied. */
  drain(): Promise<void>;
  /** Stops copying input and gives the process EOF on stdin. */
  closeStdin(): void;
  /** Stops copying and removes the FIFOs it made. Idempotent. */
  close(): Promise<void>;
}

/** Makes the IO of a process (containerd's cio.Creator). */
export interface IOCreator {
  /** `id` names the FIFOs: the container id, or the exec id. */
  create(id: string): Promise<TaskIO>;
}

/** Streams to connect to a process. Output streams are not ended when the process is. */
export interface Streams {
  stdin?: Readable | undefined;
  stdout?: Writable | undefined;
  stderr?: Writable | undefined;
}

/** Where FIFO sets are made and how. */
export interface FifoOptions {
  /** Parent directory of FIFO sets (default `/run/sandboxd/fifo` as root, else the temp dir). */
  fifoDir?: string | undefined;
  /** One terminal instead of separate stdout and stderr. */
  terminal?: boolean | undefined;
  /**
   * Makes FIFOs (mode 0600) at the paths. Default: one mkfifo(1) run (Node has no
   * mkfifo(3)); a process that has libc's, as sandboxd does, passes it.
   */
  makeFifos?: ((paths: readonly string[]) => Promise<void>) | undefined;
}

/** The parent of FIFO directories when none is given (Go: /run/containerd/fifo). */
export function defaultFifoDir(): string {
  return process.getuid?.() === 0 ? "/run/sandboxd/fifo" : tmpdir();
}

/** IO with no streams: the shim connects the process to /dev/null (containerd's cio.NullIO). */
export function nullIO(): IOCreator {
  return {
    create(): Promise<TaskIO> {
      return Promise.resolve(new NoIO());
    },
  };
}

/** IO copied to and from `streams` through a new FIFO set (containerd's cio.WithStreams). */
export function withStreams(streams: Streams, options: FifoOptions = {}): IOCreator {
  return {
    create: (id: string) => createFifoIO(id, streams, options),
  };
}

/**
 * This process's own stdin, stdout and stderr (containerd's cio.WithStdio).
 * With `stdin: false`, the process gets no stdin (EOF at once).
 */
export function stdio(options: FifoOptions & { stdin?: boolean } = {}): IOCreator {
  return withStreams(
    {
      stdin: options.stdin === false ? undefined : process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
    },
    options,
  );
}

/** An IOCreator whose IO is being made ahead of the task that will use it. */
export interface PreparedIO extends IOCreator {
  /** Closes the IO (removes its FIFOs) if no task took it; a no-op once one did. */
  discard(): Promise<void>;
}

/**
 * Starts making `id`'s IO now: a FIFO set costs a process (Node has no
 * mkfifo) and a few opens, which can overlap with the sandbox's start.
 * `create` then hands over what was made; `id` must be the same.
 */
export function preparedIO(creator: IOCreator, id: string): PreparedIO {
  const made = creator.create(id);
  // Seen by create() or discard(); never an unhandled rejection meanwhile.
  made.catch(() => undefined);
  let taken = false;
  return {
    create(forId: string): Promise<TaskIO> {
      if (forId !== id) {
        return Promise.reject(
          invalidArgument(`IO prepared for ${JSON.stringify(id)}, not ${JSON.stringify(forId)}`),
        );
      }
      taken = true;
      return made;
    },
    async discard(): Promise<void> {
      if (taken) return;
      taken = true;
      const io = await made.catch(() => undefined);
      await io?.close();
    },
  };
}

/** Output collected in memory (for tests and scripts). */
export class CapturedIO implements IOCreator {
  readonly #stdout: Buffer[] = [];
  readonly #stderr: Buffer[] = [];
  readonly #input: string | Uint8Array | undefined;
  readonly #options: FifoOptions;

  /** @param input  what the process reads on stdin (it gets EOF after it). */
  constructor(input?: string | Uint8Array, options: FifoOptions = {}) {
    this.#input = input;
    this.#options = options;
  }

  /** Everything written to stdout so far (and stderr, with a terminal). */
  get stdout(): string {
    return Buffer.concat(this.#stdout).toString("utf8");
  }
  /** Everything written to stderr so far. */
  get stderr(): string {
    return Buffer.concat(this.#stderr).toString("utf8");
  }

  create(id: string): Promise<TaskIO> {
    const sink = (chunks: Buffer[]): Writable =>
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          chunks.push(chunk);
          callback();
        },
      });
    return createFifoIO(
      id,
      {
        stdin: this.#input === undefined ? undefined : Readable.from([Buffer.from(this.#input)]),
        stdout: sink(this.#stdout),
        stderr: sink(this.#stderr),
      },
      this.#options,
    );
  }
}

/** Collects output in memory: `const io = capture(); ...; io.stdout`. */
export function capture(input?: string | Uint8Array, options: FifoOptions = {}): CapturedIO {
  return new CapturedIO(input, options);
}

/**
 * Connects `streams` to the FIFOs of an existing process (its stdin/stdout/stderr
 * paths, from `Task.status()`), without creating or removing them.
 */
export async function attachFifos(
  config: IOConfig,
  streams: Streams,
  closeStdin?: () => Promise<void>,
): Promise<TaskIO> {
  const io = new FifoIO(config, undefined, streams);
  try {
    await io.open();
  } catch (err) {
    await io.close();
    throw err;
  }
  io.started(closeStdin);
  return io;
}

class NoIO implements TaskIO {
  readonly config: IOConfig = { stdin: "", stdout: "", stderr: "", terminal: false };
  started(_closeStdin?: () => Promise<void>): void {}
  drain(): Promise<void> {
    return Promise.resolve();
  }
  closeStdin(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function createFifoIO(id: string, streams: Streams, options: FifoOptions): Promise<TaskIO> {
  const parent = options.fifoDir ?? defaultFifoDir();
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(parent, `${id}-`));
  const terminal = options.terminal ?? false;
  const path = (name: string): string => join(dir, `${id}-${name}`);
  const config: IOConfig = {
    stdin: streams.stdin ? path("stdin") : "",
    stdout: streams.stdout ? path("stdout") : "",
    stderr: streams.stderr && !terminal ? path("stderr") : "",
    terminal,
  };
  const io = new FifoIO(config, dir, streams);
  try {
    const paths = [config.stdin, config.stdout, config.stderr].filter((p) => p !== "");
    if (paths.length > 0) await (options.makeFifos ?? mkfifos)(paths);
    await io.open();
  } catch (err) {
    await io.close();
    throw err;
  }
  return io;
}

/**
 * A FIFO set and the copying around it. Output: a reader socket plus a
 * placeholder writer fd that keeps EOF away until the process has exited
 * (whenever the shim opens its end, no output is lost). Input: a writer
 * opened only once the shim has opened the read end (so data and EOF are
 * never dropped in a FIFO nobody has opened yet).
 */
class FifoIO implements TaskIO {
  readonly config: IOConfig;
  readonly #dir: string | undefined;
  readonly #streams: Streams;
  readonly #readers: Socket[] = [];
  readonly #placeholders: number[] = [];
  #stdin: Socket | undefined;
  #stdinEnded = false;
  #closeStdinRemote: (() => Promise<void>) | undefined;
  readonly #stop = new AbortController();
  #closed = false;

  constructor(config: IOConfig, dir: string | undefined, streams: Streams) {
    this.config = config;
    this.#dir = dir;
    this.#streams = streams;
  }

  async open(): Promise<void> {
    const outputs: [string, Writable | undefined][] = [
      [this.config.stdout, this.#streams.stdout],
      [this.config.stderr, this.#streams.stderr],
    ];
    for (const [path, dest] of outputs) {
      if (path === "" || !dest) continue;
      const { socket, placeholder } = await openFifoReader(path);
      this.#placeholders.push(placeholder);
      this.#readers.push(socket);
      socket.on("error", () => socket.destroy());
      socket.pipe(dest, { end: false });
    }
  }

  started(closeStdin?: () => Promise<void>): void {
    const source = this.#streams.stdin;
    if (this.config.stdin === "" || !source || this.#closed) return;
    this.#closeStdinRemote = closeStdin;
    openFifoWriterWhenRead(this.config.stdin, this.#stop.signal).then(
      (stdin) => {
        if (!stdin) return;
        this.#stdin = stdin;
        // The reader may go away first (EPIPE): input is then simply dropped.
        stdin.on("error", () => stdin.destroy());
        stdin.on("finish", () => {
          stdin.destroy();
          // The data is in the FIFO; the shim reads it, then closes the process's stdin.
          this.#closeStdinRemote?.().catch(() => undefined);
        });
        if (this.#stdinEnded) {
          // Input ended before the shim opened its end: pass on what was given, then EOF.
          let chunk = source.read() as Buffer | string | null;
          for (; chunk !== null; chunk = source.read() as Buffer | string | null) {
            stdin.write(chunk);
          }
          stdin.end();
        } else {
          source.pipe(stdin);
        }
      },
      // An unusable FIFO (removed under us): the process gets no input.
      () => undefined,
    );
  }

  async drain(): Promise<void> {
    await this.#releasePlaceholders();
    await Promise.all(
      this.#readers.map(async (r) => {
        if (!r.closed) await once(r, "close");
      }),
    );
  }

  closeStdin(): void {
    this.#stdinEnded = true;
    const stdin = this.#stdin;
    if (!stdin) return;
    this.#streams.stdin?.unpipe(stdin);
    stdin.end();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    const source = this.#streams.stdin;
    if (source) {
      if (this.#stdin) source.unpipe(this.#stdin);
      // Let a stdin we were reading (process.stdin) stop holding the event loop.
      source.pause();
    }
    this.#stdin?.destroy();
    for (const r of this.#readers) {
      for (const dest of [this.#streams.stdout, this.#streams.stderr]) if (dest) r.unpipe(dest);
      r.destroy();
    }
    await this.#releasePlaceholders();
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
  }

  async #releasePlaceholders(): Promise<void> {
    const fds = this.#placeholders.splice(0);
    await Promise.all(fds.map(closeFd));
  }
}
