/**
 * Terminals. Node can neither receive runc's console fd (SCM_RIGHTS) nor speak
 * conmon's SOCK_SEQPACKET attach socket, so conmon does the terminal work and
 * Debian tools fill the gaps:
 *
 * - `conmon -t` receives the pty master from runc and writes everything the
 *   process prints to a `k8s-file` log (`<ts> stdout F|P <bytes>` lines; F ends
 *   with the newline conmon split at). We tail that file into the client's
 *   stdout FIFO, reassembling the exact bytes, and keep the position on disk
 *   (saved before each write, see TerminalOutput), so output written while the
 *   sandboxer was down is delivered after it returns and nothing the client
 *   has read is delivered twice.
 * - conmon also holds the client's stdout FIFO open (an extra descriptor it
 *   keeps until the process exits), so a sandboxer restart does not look like
 *   the end of the output to the client.
 * - Input: a detached `socat` copies the client's stdin FIFO into conmon's attach
 *   socket (SOCK_SEQPACKET; what conmon sends back there is drained into
 *   /dev/null, the log is the output path).
 * - ResizePty: `1 <rows> <cols>` written to conmon's `ctl` FIFO.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import type { FSWatcher } from "node:fs";
import { constants, openSync, watch, writeSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { closeQuietly } from "./io.js";

export interface TerminalPaths {
  /** conmon's --socket-dir-path (short: the attach socket path must fit 108 bytes). */
  socketDir: string;
  /** conmon's -u: names the attach directory. */
  cuuid: string;
  attach: string;
  log: string;
  /** conmon's control FIFO, in its -b directory. */
  ctl: string;
  offsetFile: string;
}

export function terminalPaths(
  ttyRoot: string,
  procDir: string,
  controlDir: string,
  key: string,
): TerminalPaths {
  const cuuid = createHash("sha256").update(key).digest("hex").slice(0, 16);
  return {
    socketDir: ttyRoot,
    cuuid,
    attach: join(ttyRoot, cuuid, "attach"),
    log: join(procDir, "console.log"),
    ctl: join(controlDir, "ctl"),
    offsetFile: join(procDir, "console.offset"),
  };
}

/** Bytes of k8s-file log lines, reassembled; `rest` is an incomplete last line. */
export function decodeK8sLog(text: Buffer): { out: Buffer; consumed: number } {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const nl = text.indexOf(0x0a, pos);
    if (nl < 0) break;
    const line = text.subarray(pos, nl);
    // <timestamp> <stream> <F|P> <content>
    let field = 0;
    let i = 0;
    for (; i < line.length && field < 3; i++) if (line[i] === 0x20) field++;
    if (field === 3) {
      const tag = line[i - 2];
      parts.push(line.subarray(i));
      if (tag === 0x46 /* F */) parts.push(Buffer.from("\n"));
    }
    pos = nl + 1;
  }
  return { out: Buffer.concat(parts), consumed: pos };
}

/** At most this much per write(2): a pipe takes it whole or not at all (PIPE_BUF). */
const ATOMIC_WRITE = 4096;
/** The offset file's fixed size: each save is one pwrite over the same bytes. */
const POSITION_SIZE = 48;
const RETRY_MIN_MS = 5;
const RETRY_MAX_MS = 200;

/**
 * Where the client's output stands: every log line before `base` is delivered,
 * and so are the first `skip` bytes of what the lines from `base` on decode to.
 */
export interface TerminalPosition {
  base: number;
  skip: number;
}

/** `base skip`; an older sandboxer wrote only `base`. Anything unreadable is the start. */
export function parseTerminalPosition(text: string): TerminalPosition {
  const [base = 0, skip = 0] = text.trim().split(/\s+/).map(Number);
  return Number.isSafeInteger(base) && Number.isSafeInteger(skip) && base >= 0 && skip >= 0
    ? { base, skip }
    : { base: 0, skip: 0 };
}

/**
 * Tails conmon's console log into the client's stdout FIFO, each byte once
 * across sandboxer restarts, as far as a kill -9 allows.
 *
 * Delivery cannot be atomic with recording it (a write to the FIFO and a write
 * to the offset file are two syscalls), so one of them comes first. The
 * position is saved *before* each write, synchronously and right next to it
 * (one pwrite, then one write of at most PIPE_BUF bytes, which a non-blocking
 * pipe takes whole or refuses): whatever the client has read is recorded, so a
 * restart never replays it. A kill landing exactly between those two syscalls
 * loses that one write (≤ 4 KiB) rather than repeating it: on a terminal a
 * repeat is worse (prompts and echoed input show twice, escape sequences run
 * again), and what the client already saw is the one thing it can be sure of.
 * Output the client has not taken yet (a full pipe) stays unrecorded and is
 * delivered after a restart, in order.
 */
export class TerminalOutput {
  readonly #paths: TerminalPaths;
  /** The client's FIFO, O_RDWR|O_NONBLOCK (never blocks, never EPIPE); -1: nowhere. */
  #sink: number;
  #positionFd: number;
  /** Log bytes decoded so far (always a line boundary). */
  #readPos: number;
  /** Decoded bytes of the lines from `#base` to `#readPos`; the first `#sent` are delivered. */
  #pending: Buffer = Buffer.alloc(0);
  #base: number;
  #sent: number;
  #skip: number;
  #watcher: FSWatcher | undefined;
  #reading: Promise<void> = Promise.resolve();
  #retry: NodeJS.Timeout | undefined;
  #retryMs = RETRY_MIN_MS;
  #closed = false;

  constructor(paths: TerminalPaths, stdoutFifo: string, position: TerminalPosition) {
    this.#paths = paths;
    this.#base = position.base;
    this.#readPos = position.base;
    this.#sent = 0;
    // Decoded bytes at `base` that an earlier run already delivered.
    this.#skip = position.skip;
    this.#sink = stdoutFifo ? openSync(stdoutFifo, constants.O_RDWR | constants.O_NONBLOCK) : -1;
    try {
      this.#positionFd = openSync(paths.offsetFile, constants.O_WRONLY | constants.O_CREAT, 0o600);
    } catch {
      // The process's directory is gone: so is anything that would resume from it.
      this.#positionFd = -1;
    }
  }

  static async resume(paths: TerminalPaths, stdoutFifo: string): Promise<TerminalOutput> {
    const position = parseTerminalPosition(
      await readFile(paths.offsetFile, "utf8").catch(() => ""),
    );
    try {
      return new TerminalOutput(paths, stdoutFifo, position);
    } catch {
      // The client's FIFO is gone (it went away while we were down): keep tailing, to nowhere.
      return new TerminalOutput(paths, "", position);
    }
  }

  start(dir: string): void {
    try {
      this.#watcher = watch(dir, { persistent: false }, (_e, name) => {
        if (name?.toString() === "console.log") void this.pump();
      });
      this.#watcher.on("error", () => this.#watcher?.close());
    } catch {
      // the directory is gone: the process is too
    }
    void this.pump();
  }

  /** Reads what was appended since the last read and delivers what the pipe takes (serialised). */
  pump(): Promise<void> {
    this.#reading = this.#reading.then(() => this.#readMore()).catch(() => undefined);
    return this.#reading;
  }

  async #readMore(): Promise<void> {
    if (!this.#flush() || this.#closed) return;
    const file = await open(this.#paths.log, "r").catch(() => undefined);
    if (!file) return;
    try {
      for (;;) {
        const chunk = Buffer.alloc(64 * 1024);
        const { bytesRead } = await file.read(chunk, 0, chunk.length, this.#readPos);
        if (bytesRead === 0) break;
        const { out, consumed } = decodeK8sLog(chunk.subarray(0, bytesRead));
        if (consumed === 0) break;
        this.#readPos += consumed;
        this.#pending = this.#pending.length === 0 ? out : Buffer.concat([this.#pending, out]);
        // Skipped bytes were delivered before a restart: dropped, the saved position stays valid.
        const skipped = Math.min(this.#skip, this.#pending.length - this.#sent);
        this.#sent += skipped;
        this.#skip -= skipped;
        if (!this.#flush()) break;
      }
    } finally {
      await file.close();
    }
  }

  /** Writes pending output; false when the pipe is full (a retry is scheduled). */
  #flush(): boolean {
    while (this.#sent < this.#pending.length) {
      if (this.#sink < 0) {
        this.#sent = this.#pending.length;
        break;
      }
      const n = Math.min(ATOMIC_WRITE, this.#pending.length - this.#sent);
      this.#save(this.#sent + n);
      try {
        writeSync(this.#sink, this.#pending, this.#sent, n);
      } catch (err) {
        this.#save(this.#sent);
        if ((err as NodeJS.ErrnoException).code === "EAGAIN") {
          this.#scheduleRetry();
          return false;
        }
        // The FIFO is unusable (removed and broken): the rest goes nowhere.
        closeQuietly(this.#sink);
        this.#sink = -1;
        continue;
      }
      this.#sent += n;
      this.#retryMs = RETRY_MIN_MS;
    }
    if (this.#pending.length > 0 && this.#skip === 0) {
      // All delivered: the next position is a plain line boundary.
      this.#base = this.#readPos;
      this.#pending = Buffer.alloc(0);
      this.#sent = 0;
      this.#save(0);
    }
    if (this.#closed) this.#release();
    return true;
  }

  /** A full pipe has no event Node can wait on without a stream: poll it, backing off. */
  #scheduleRetry(): void {
    if (this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
      void this.pump();
    }, this.#retryMs);
    this.#retry.unref();
  }

  #save(sent: number): void {
    if (this.#positionFd < 0) return;
    // Bytes at `#base` still to be skipped were delivered too (before a restart).
    const text = `${this.#base} ${sent + this.#skip}`.padEnd(POSITION_SIZE - 1) + "\n";
    try {
      writeSync(this.#positionFd, text, 0);
    } catch {
      // as above
    }
  }

  /** The process exited: deliver the rest of the log, then EOF for the client once it is taken. */
  async finish(): Promise<void> {
    await this.pump();
    this.close();
  }

  /** Decoded output the client's pipe has not taken yet. */
  get backlog(): number {
    return this.#pending.length - this.#sent;
  }

  resize(rows: number, cols: number): void {
    resizeTerminal(this.#paths.ctl, rows, cols);
  }

  /** No more reading; the FIFO closes once the client has taken what is pending. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher?.close();
    if (this.#sent >= this.#pending.length) this.#release();
  }

  #release(): void {
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = undefined;
    closeQuietly(this.#sink);
    this.#sink = -1;
    closeQuietly(this.#positionFd);
    this.#positionFd = -1;
  }
}

/** `1 rows cols` on conmon's control FIFO (it always has a reader while conmon runs). */
export function resizeTerminal(ctl: string, rows: number, cols: number): void {
  let fd: number | undefined;
  try {
    fd = openSync(ctl, constants.O_WRONLY | constants.O_NONBLOCK);
    writeSync(fd, `1 ${rows} ${cols}\n`);
  } finally {
    closeQuietly(fd);
  }
}

/** socat copying the client's stdin FIFO into the attach socket; detached, it outlives us. */
export async function startInputBridge(
  socat: string,
  stdinFifo: string,
  attach: string,
): Promise<number> {
  const child = spawn(
    socat,
    [
      "-b",
      "65536",
      `OPEN:${stdinFifo},rdonly!!OPEN:/dev/null,wronly`,
      `UNIX-CONNECT:${attach},type=5`,
    ],
    { detached: true, stdio: "ignore" },
  );
  const pid = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("spawn", () => resolve(child.pid ?? 0));
  });
  child.unref();
  return pid;
}
