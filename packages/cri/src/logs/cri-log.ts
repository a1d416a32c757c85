/**
 * CRI container logs: the container's stdout and stderr FIFOs are read here
 * and written to the log file kubelet and crictl read, one record per line:
 *
 *   <RFC3339Nano> <stdout|stderr> <F|P> <content>\n
 *
 * `F` ends a line; `P` is a part of a longer line (split at 16 KiB, as
 * containerd's max_container_log_line_size). Raw bytes also go to attached
 * clients. `reopen` closes and reopens the file (kubelet's rotation renames
 * it first); if the path cannot be opened the error is returned and no file
 * is made.
 */
import { closeSync, constants, openSync, writeSync } from "node:fs";
import net from "node:net";

export const maxLineBytes = 16 * 1024;
export type StreamName = "stdout" | "stderr";

/** RFC3339Nano in UTC, as Go formats it (trailing zeros of the fraction dropped). */
export function rfc3339Nano(ms: number, extraNs = 0): string {
  const d = new Date(ms);
  const base = d.toISOString().slice(0, 19);
  const ns = (ms % 1000) * 1_000_000 + extraNs;
  const frac = ns === 0 ? "" : "." + String(ns).padStart(9, "0").replace(/0+$/, "");
  return `${base}${frac}Z`;
}

/** Nanoseconds within the millisecond, from the monotonic clock (keeps records ordered). */
function subMs(): number {
  return Number(process.hrtime.bigint() % 1_000_000n);
}

/** Formats `data` from `stream` into records; `pending` holds an unfinished line. */
export function formatRecords(
  stream: StreamName,
  data: Buffer,
  pending: Buffer,
  eof: boolean,
  now: () => string,
): { out: Buffer[]; pending: Buffer } {
  const out: Buffer[] = [];
  let buf = pending.length > 0 ? Buffer.concat([pending, data]) : data;
  for (;;) {
    const nl = buf.indexOf(0x0a);
    if (nl >= 0 && nl <= maxLineBytes) {
      out.push(record(now(), stream, "F", buf.subarray(0, nl)));
      buf = buf.subarray(nl + 1);
      continue;
    }
    if (buf.length >= maxLineBytes) {
      out.push(record(now(), stream, "P", buf.subarray(0, maxLineBytes)));
      buf = buf.subarray(maxLineBytes);
      continue;
    }
    break;
  }
  if (eof && buf.length > 0) {
    out.push(record(now(), stream, "F", buf));
    buf = Buffer.alloc(0);
  }
  return { out, pending: Buffer.from(buf) };
}

function record(ts: string, stream: StreamName, tag: "F" | "P", content: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${ts} ${stream} ${tag} `), content, Buffer.from("\n")]);
}

/** The log file of one container; both streams write to it. */
export class LogFile {
  readonly path: string;
  #fd: number | undefined;

  constructor(path: string) {
    this.path = path;
    this.#fd = path
      ? openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o640)
      : undefined;
  }

  write(chunks: readonly Buffer[]): void {
    if (this.#fd === undefined) return;
    for (const c of chunks) writeSync(this.#fd, c);
  }

  reopen(): void {
    if (!this.path) return;
    const fd = openSync(
      this.path,
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT,
      0o640,
    );
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = fd;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

export type RawListener = (stream: StreamName, data: Buffer) => void;

/**
 * Reads one output FIFO without ever blocking: the read end is opened
 * O_RDONLY|O_NONBLOCK, then a write end is held (`keep`) so there is no
 * end-of-file before the container opens its side. `release` drops that
 * write end once the process exited: EOF follows when its last writer is gone.
 */
export class FifoReader {
  readonly #socket: net.Socket;
  #keep: number | undefined;
  readonly done: Promise<void>;

  constructor(path: string, onData: (data: Buffer) => void, onEnd: () => void) {
    const rfd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    this.#keep = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    this.#socket = new net.Socket({ fd: rfd, readable: true, writable: false });
    this.done = new Promise((resolve) => {
      this.#socket.on("data", onData);
      this.#socket.on("error", () => undefined);
      this.#socket.on("close", () => {
        onEnd();
        resolve();
      });
    });
  }

  release(): void {
    if (this.#keep !== undefined) closeSync(this.#keep);
    this.#keep = undefined;
  }

  destroy(): void {
    this.release();
    this.#socket.destroy();
  }
}

/** A container's output: both FIFOs into the CRI log, and raw bytes to listeners. */
export class ContainerOutput {
  readonly file: LogFile;
  readonly listeners = new Set<RawListener>();
  readonly #readers: FifoReader[] = [];

  constructor(logPath: string, fifos: Partial<Record<StreamName, string>>) {
    this.file = new LogFile(logPath);
    for (const [name, path] of Object.entries(fifos) as [StreamName, string][]) {
      let pending: Buffer = Buffer.alloc(0);
      const now = (): string => rfc3339Nano(Date.now(), subMs());
      const onData = (data: Buffer): void => {
        for (const l of this.listeners) l(name, data);
        const r = formatRecords(name, data, pending, false, now);
        pending = r.pending;
        this.file.write(r.out);
      };
      const onEnd = (): void => {
        this.file.write(formatRecords(name, Buffer.alloc(0), pending, true, now).out);
        pending = Buffer.alloc(0);
      };
      this.#readers.push(new FifoReader(path, onData, onEnd));
    }
  }

  /** The process exited: let the readers reach EOF, then close the file. */
  async finish(): Promise<void> {
    for (const r of this.#readers) r.release();
    await Promise.all(this.#readers.map((r) => r.done));
    this.file.close();
  }

  destroy(): void {
    for (const r of this.#readers) r.destroy();
    this.file.close();
  }
}
