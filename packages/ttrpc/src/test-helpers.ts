/**
 * Shared by this package's tests (not exported): temp sockets, a server per test, a raw
 * frame-level connection, and a small service descriptor built at runtime.
 */
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { create, createFileRegistry } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import type { StringValueSchema } from "@bufbuild/protobuf/wkt";
import { FileDescriptorProtoSchema, file_google_protobuf_wrappers } from "@bufbuild/protobuf/wkt";
import { connect } from "./client.js";
import type { Client } from "./client.js";
import type { Frame } from "./frame.js";
import { FrameParser, encodeFrame } from "./frame.js";
import type { ServerOptions } from "./server.js";
import { Server } from "./server.js";

export async function tempSocket(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "ttrpc-test-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, "ttrpc.sock");
}

/** A server listening on a fresh socket, closed after the test. */
export async function startServer(
  t: TestContext,
  setup: (server: Server) => void,
  options?: ServerOptions,
): Promise<{ server: Server; path: string }> {
  const path = await tempSocket(t);
  const server = new Server(options);
  setup(server);
  await server.listen(path);
  t.after(() => server.close());
  return { server, path };
}

/** A client connected to `path`, closed after the test. */
export async function startClient(t: TestContext, path: string): Promise<Client> {
  const client = await connect(path);
  t.after(() => client.close());
  return client;
}

/** A resolvable promise. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A connection that speaks frames directly, to send what a well-behaved client would not. */
export class RawConnection {
  readonly socket: net.Socket;
  readonly #parser = new FrameParser();
  readonly #frames: Frame[] = [];
  #waiter: (() => void) | undefined;
  #ended = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#parser.push(chunk);
      for (let p = this.#parser.next(); p !== undefined; p = this.#parser.next()) {
        if (p.kind === "frame") this.#frames.push(p.frame);
      }
      this.#wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("error", () => {});
  }

  static async open(t: TestContext, path: string): Promise<RawConnection> {
    const socket = net.createConnection({ path });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const conn = new RawConnection(socket);
    t.after(() => socket.destroy());
    return conn;
  }

  send(streamId: number, type: number, flags: number, payload?: Uint8Array): void {
    this.socket.write(encodeFrame(streamId, type, flags, payload));
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next frame from the server; undefined once the server closed the connection. */
  async next(timeoutMs = 5000): Promise<Frame | undefined> {
    const until = Date.now() + timeoutMs;
    while (this.#frames.length === 0 && !this.#ended) {
      const left = until - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a frame");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.#frames.shift();
  }

  /** Every frame until the server closes the connection. */
  async drain(timeoutMs = 5000): Promise<Frame[]> {
    const out: Frame[] = [];
    for (let f = await this.next(timeoutMs); f !== undefined; f = await this.next(timeoutMs))
      out.push(f);
    return out;
  }

  get ended(): boolean {
    return this.#ended;
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }
}

const echoFile = create(FileDescriptorProtoSchema, {
  name: "ttrpc/test/echo.proto",
  package: "ttrpc.test",
  syntax: "proto3",
  dependency: ["google/protobuf/wrappers.proto"],
  service: [
    {
      name: "Echo",
      method: [
        {
          name: "Echo",
          inputType: ".google.protobuf.StringValue",
          outputType: ".google.protobuf.StringValue",
        },
        {
          name: "Count",
          inputType: ".google.protobuf.StringValue",
          outputType: ".google.protobuf.StringValue",
          serverStreaming: true,
        },
        {
          name: "Join",
          inputType: ".google.protobuf.StringValue",
          outputType: ".google.protobuf.StringValue",
          clientStreaming: true,
        },
        {
          name: "Chat",
          inputType: ".google.protobuf.StringValue",
          outputType: ".google.protobuf.StringValue",
          clientStreaming: true,
          serverStreaming: true,
        },
      ],
    },
  ],
});

type S = typeof StringValueSchema;

/** `service ttrpc.test.Echo` with one method of each kind, all on StringValue. */
export const EchoService = createFileRegistry(echoFile, (name) =>
  name === "google/protobuf/wrappers.proto" ? file_google_protobuf_wrappers : undefined,
).getService("ttrpc.test.Echo") as GenService<{
  echo: { methodKind: "unary"; input: S; output: S };
  count: { methodKind: "server_streaming"; input: S; output: S };
  join: { methodKind: "client_streaming"; input: S; output: S };
  chat: { methodKind: "bidi_streaming"; input: S; output: S };
}>;
