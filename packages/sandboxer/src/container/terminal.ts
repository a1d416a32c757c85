/**
 * Terminals. Node can neither receive runc's console fd (SCM_RIGHTS) nor speak
 * conmon's SOCK_SEQPACKET attach socket, so conmon does the terminal work and
 * Debian tools fill the gaps:
 *
 * - `conmon -t` receives the pty master from runc and writes everything the
 *   process prints to a `k8s-file` log (`<ts> stdout F|P <bytes>` lines; F ends
 *   with the newline conmon split at). We tail that file into the client's
 *   stdout FIFO, reassembling the exact bytes, and keep the offset on disk, so
 *   output written while the sandboxer was down is delivered after it returns.
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
import { open, readFile, writeFile } from "node:fs/promises";
import net from "node:net";
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

/** Tails conmon's console log into the client's stdout FIFO. */
export class TerminalOutput {
  readonly #paths: TerminalPaths;
  readonly #sink: net.Socket | undefined;
  #offset: number;
  #watcher: FSWatcher | undefined;
  #reading: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(paths: TerminalPaths, stdoutFifo: string, offset: number) {
    this.#paths = paths;
    this.#offset = offset;
    // O_RDWR: never blocks, and our writes never fail before the client's reader opens.
    this.#sink = stdoutFifo
      ? new net.Socket({
          fd: openSync(stdoutFifo, constants.O_RDWR),
          readable: false,
          writable: true,
        })
      : undefined;
    this.#sink?.on("error", () => this.#sink?.destroy());
  }

  static async resume(paths: TerminalPaths, stdoutFifo: string): Promise<TerminalOutput> {
    const saved = Number((await readFile(paths.offsetFile, "utf8").catch(() => "0")).trim());
    const offset = Number.isFinite(saved) ? saved : 0;
    try {
      return new TerminalOutput(paths, stdoutFifo, offset);
    } catch {
      // The client's FIFO is gone (it went away while we were down): keep tailing, to nowhere.
      return new TerminalOutput(paths, "", offset);
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

  /** Reads what was appended since the last read (serialised). */
  pump(): Promise<void> {
    this.#reading = this.#reading.then(() => this.#readMore()).catch(() => undefined);
    return this.#reading;
  }

  async #readMore(): Promise<void> {
    if (this.#closed) return;
    const file = await open(this.#paths.log, "r").catch(() => undefined);
    if (!file) return;
    try {
      for (;;) {
        const chunk = Buffer.alloc(64 * 1024);
        const { bytesRead } = await file.read(chunk, 0, chunk.length, this.#offset);
        if (bytesRead === 0) break;
        const { out, consumed } = decodeK8sLog(chunk.subarray(0, bytesRead));
        if (consumed === 0) break;
        this.#offset += consumed;
        if (out.length > 0 && this.#sink && !this.#sink.destroyed) this.#sink.write(out);
      }
    } finally {
      await file.close();
    }
    // Right after the bytes went out: a restart resends at most what was in flight.
    await writeFile(this.#paths.offsetFile, String(this.#offset)).catch(() => undefined);
  }

  /** The process exited: deliver the rest of the log, then EOF for the client. */
  async finish(): Promise<void> {
    await this.pump();
    this.close();
  }

  resize(rows: number, cols: number): void {
    resizeTerminal(this.#paths.ctl, rows, cols);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher?.close();
    void writeFile(this.#paths.offsetFile, String(this.#offset)).catch(() => undefined);
    const sink = this.#sink;
    if (!sink) return;
    if (sink.writableLength === 0) sink.destroy();
    else sink.once("drain", () => sink.destroy());
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
