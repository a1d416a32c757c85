// One call of sandboxd's CLI server: the caller's argv, environment and
// working directory from the hello; its stdout and stderr as frames back; its
// stdin asked for only when a command reads it; its signals and terminal size
// as frames in. The command runs as in the Node CLI (main), with this caller.
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { Readable, Writable } from "node:stream";
import { callerSignals } from "../caller.js";
import type { Caller, CallerSignal } from "../caller.js";
import type { SharedConnection } from "../context.js";
import { encodeFrame, Frame, FrameReader, parseHello } from "./frames.js";
import type { Hello } from "./frames.js";

export interface CallOptions {
  /** sandboxd's own gRPC address: calls aimed elsewhere go back to the Node CLI. */
  address: string;
  /** Called with what went wrong on a connection (a broken peer, a bug). */
  onError?: ((err: unknown) => void) | undefined;
  /** The server's one connection to its own sandboxd, shared by its calls. */
  shared?: SharedConnection | undefined;
  /** How this process makes FIFOs (sandboxd: libc's mkfifo, no process per call). */
  makeFifos?: ((paths: readonly string[]) => Promise<void>) | undefined;
}

/** How long a command whose client went away has to end on SIGHUP. */
const hangUpGraceMs = 5000;

/** Serves one connection until its command ends or the client goes away. */
export function serveCall(socket: Socket, options: CallOptions): void {
  const reader = new FrameReader();
  let call: RemoteCaller | undefined;
  let helloSeen = false;
  const fail = (err: unknown): void => {
    options.onError?.(err);
    socket.destroy();
  };
  socket.on("error", () => socket.destroy());
  socket.on("close", () => call?.hangUp());
  socket.on("data", (chunk: Buffer) => {
    let frames;
    try {
      frames = reader.push(chunk);
    } catch (err) {
      fail(err);
      return;
    }
    for (const { type, payload } of frames) {
      if (!helloSeen) {
        helloSeen = true;
        if (type !== Frame.Hello) {
          fail(new Error(`the first frame is ${type}, not a hello`));
          return;
        }
        let hello: Hello;
        try {
          hello = parseHello(payload);
        } catch (err) {
          fail(err);
          return;
        }
        call = new RemoteCaller(socket, hello, options.makeFifos);
        start(call, hello, options).catch(fail);
        continue;
      }
      call?.frame(type, payload);
    }
  });
}

async function start(call: RemoteCaller, hello: Hello, options: CallOptions): Promise<void> {
  // Loaded at the first call: an idle sandboxd does not hold the CLI.
  const [{ servedHere }, { main }] = await Promise.all([
    import("./policy.js"),
    import("../main.js"),
  ]);
  if (!servedHere(hello, options.address)) {
    call.finish();
    call.send(Frame.Local);
    call.end();
    return;
  }
  let status: number;
  try {
    status = await main(hello.argv, {
      stdout: call.stdout,
      stderr: call.stderr,
      env: hello.env,
      caller: call,
      ...(options.shared ? { shared: options.shared } : {}),
    });
  } catch (err) {
    // main turns every error into a message: this is a bug in sbx itself.
    call.stderr.write(`sbx: ${String(err)}\n`);
    options.onError?.(err);
    status = 1;
  }
  call.finish();
  await call.flush();
  call.send(Frame.Exit, String(status));
  call.end();
}

class RemoteCaller implements Caller {
  readonly stdin: Readable;
  readonly stdout: Writable & { isTTY: boolean; columns: number; rows: number };
  readonly stderr: Writable & { isTTY: boolean };
  readonly stdinIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  readonly cwd: string;
  readonly makeFifos: ((paths: readonly string[]) => Promise<void>) | undefined;
  readonly #socket: Socket;
  readonly #events = new EventEmitter();
  #size: { width: number; height: number } | undefined;
  #stdinAsked = false;
  #ended = false;
  #hangUpTimer: NodeJS.Timeout | undefined;

  constructor(
    socket: Socket,
    hello: Hello,
    makeFifos: ((paths: readonly string[]) => Promise<void>) | undefined,
  ) {
    this.#socket = socket;
    this.makeFifos = makeFifos;
    this.cwd = hello.cwd;
    this.stdinIsTTY = hello.stdinIsTTY;
    this.stderrIsTTY = hello.stderrIsTTY;
    this.#size =
      hello.stdoutIsTTY && hello.columns > 0
        ? { width: hello.columns, height: hello.rows }
        : undefined;
    this.stdin = new Readable({
      read: () => {
        if (this.#stdinAsked) return;
        this.#stdinAsked = true;
        this.send(Frame.ReadStdin);
      },
    });
    this.stdout = Object.assign(this.#output(Frame.Stdout), {
      isTTY: hello.stdoutIsTTY,
      columns: hello.columns,
      rows: hello.rows,
    });
    this.stderr = Object.assign(this.#output(Frame.Stderr), { isTTY: hello.stderrIsTTY });
  }

  /** A frame from the client after the hello. */
  frame(type: number, payload: Buffer): void {
    switch (type) {
      case Frame.Stdin:
        this.stdin.push(Buffer.from(payload));
        break;
      case Frame.StdinEnd:
        this.stdin.push(null);
        break;
      case Frame.Signal: {
        const name = payload.toString();
        if ((callerSignals as readonly string[]).includes(name)) this.#events.emit("signal", name);
        break;
      }
      case Frame.Resize: {
        const [width = 0, height = 0] = payload.toString().split(" ").map(Number);
        if (this.#size && width > 0 && height > 0) {
          this.#size = { width, height };
          this.stdout.columns = width;
          this.stdout.rows = height;
          this.#events.emit("resize");
        }
        break;
      }
      default:
        // Unknown frames from a newer client are ignored.
        break;
    }
  }

  /**
   * The client went away: its stdin ends and the command sees a hang-up. Nobody
   * is left to end the call, so if SIGHUP does not (a container's PID 1 ignores
   * signals it has no handler for), SIGINT and SIGTERM follow after a grace
   * period: what a person at the terminal would type, which kills a container
   * (`run`, `task exec`) or stops a stream (`events`, `image pull`). A call
   * never outlives its client in sandboxd for long.
   */
  hangUp(): void {
    if (this.#ended) return;
    if (!this.stdin.readableEnded) this.stdin.push(null);
    this.#events.emit("signal", "SIGHUP");
    this.#hangUpTimer = setTimeout(() => {
      this.#events.emit("signal", "SIGINT");
      this.#events.emit("signal", "SIGTERM");
    }, hangUpGraceMs);
  }

  /** The command ended. */
  finish(): void {
    this.#ended = true;
    clearTimeout(this.#hangUpTimer);
    this.#events.removeAllListeners();
  }

  send(type: number, payload?: Uint8Array | string): void {
    if (!this.#socket.destroyed) this.#socket.write(encodeFrame(type, payload));
  }

  end(): void {
    this.#socket.end();
  }

  terminalSize(): { width: number; height: number } | undefined {
    return this.#size;
  }

  followResize(onResize: () => void): () => void {
    this.#events.on("resize", onResize);
    return () => this.#events.off("resize", onResize);
  }

  rawTerminal(): () => void {
    // Commands that put the terminal in raw mode run in the Node CLI (policy.ts).
    return () => undefined;
  }

  onSignals(signals: readonly CallerSignal[], handler: (signal: CallerSignal) => void): () => void {
    const listener = (signal: CallerSignal): void => {
      if (signals.includes(signal)) handler(signal);
    };
    this.#events.on("signal", listener);
    return () => this.#events.off("signal", listener);
  }

  /** Waits until what the command wrote is on the socket; later writes are dropped. */
  async flush(): Promise<void> {
    await Promise.all(
      [this.stdout, this.stderr].map((w) => new Promise<void>((resolve) => w.end(() => resolve()))),
    );
  }

  /**
   * A stream of frames of `type`, as fast as the client reads them; once the
   * client is gone, output is dropped (as on EPIPE).
   */
  #output(type: number): Writable {
    const output = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        const socket = this.#socket;
        if (socket.destroyed || !socket.writable) {
          done();
          return;
        }
        if (socket.write(encodeFrame(type, chunk))) done();
        else {
          const go = (): void => {
            socket.off("drain", go);
            socket.off("close", go);
            done();
          };
          socket.on("drain", go);
          socket.on("close", go);
        }
      },
    });
    // A write after the command ended (a late copy from a FIFO) must not throw in sandboxd.
    output.on("error", () => undefined);
    return output;
  }
}
