/**
 * A Runtime over host processes and loopback TCP, for this package's tests: exec spawns `cmd`
 * with child_process, port-forward connects to 127.0.0.1:PORT. It records what tests assert on
 * (children, resizes, open forward sockets).
 */
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import type { Duplex } from "node:stream";
import { waitUntil } from "@sandboxd/testing";
import type { ExecRequest, Runtime, StreamIO, TerminalSize } from "../runtime.js";

export class ProcessRuntime implements Runtime {
  readonly children: ChildProcess[] = [];
  readonly resizes: TerminalSize[] = [];
  readonly forwards = new Set<net.Socket>();

  exec(
    _containerId: string,
    cmd: readonly string[],
    io: StreamIO,
    signal: AbortSignal,
  ): Promise<number> {
    const [file, ...args] = cmd;
    const child = spawn(file!, args, { stdio: "pipe", signal });
    this.children.push(child);
    if (io.stdin) {
      io.stdin.pipe(child.stdin);
      child.stdin.on("error", () => undefined);
    } else {
      child.stdin.end();
    }
    if (io.stdout) child.stdout.pipe(io.stdout, { end: false });
    else child.stdout.resume();
    const errOut = io.tty ? io.stdout : io.stderr;
    if (errOut) child.stderr.pipe(errOut, { end: false });
    else child.stderr.resume();
    if (io.resize) {
      void (async () => {
        for await (const size of io.resize!) this.resizes.push(size);
      })();
    }
    return new Promise((resolve, reject) => {
      let failure: Error | null = null;
      child.once("error", (err) => (failure = err));
      child.once("close", (code, sig) => {
        if (failure) return reject(failure);
        io.stdin?.unpipe(child.stdin);
        if (signal.aborted) return reject(new Error("aborted"));
        resolve(code ?? 128 + (sig ? 15 : 0));
      });
    });
  }

  attach(containerId: string, io: StreamIO, signal: AbortSignal): Promise<void> {
    // A container's stdio is not ours to simulate here: attach runs `cat` as "the container".
    return this.exec(containerId, ["cat"], io, signal).then(() => undefined);
  }

  portForward(_pod: string, port: number, stream: Duplex, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1");
      this.forwards.add(socket);
      const onAbort = (): void => {
        socket.destroy();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      socket.once("connect", () => {
        stream.pipe(socket);
        socket.pipe(stream);
      });
      socket.once("error", (err) => {
        stream.unpipe(socket);
        reject(err);
      });
      socket.once("close", () => {
        this.forwards.delete(socket);
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
      stream.once("close", () => socket.destroy());
    });
  }
}

/** An exec of `cmd` in container "c" with only stdout, unless `o` says otherwise. */
export function execOf(
  cmd: readonly string[],
  o: Partial<Omit<ExecRequest, "cmd">> = {},
): ExecRequest {
  return { containerId: "c", cmd, tty: false, stdin: false, stdout: true, stderr: false, ...o };
}

/** Waits until `child` was killed and `server` has released every session. */
export async function waitKilledAndReleased(
  child: ChildProcess,
  server: { readonly activeSessions: number },
): Promise<void> {
  await waitUntil(() => child.exitCode !== null || child.signalCode !== null, {
    what: "the process to be killed",
  });
  await waitUntil(() => server.activeSessions === 0, { what: "the session to be released" });
}
