/**
 * A gRPC server for protobuf-es services, speaking gRPC's HTTP/2 protocol
 * directly on node:http2 (unary and server-streaming methods, as the client
 * in client.ts; the same stack both ways). Every call goes through one
 * wrapper: it builds the handler's ServerCall (signal, deadline, headers),
 * maps a thrown error to a gRPC status exactly once (errdefs' toStatus, or the
 * errorToStatus hook), and reports the outcome to onCallDone for metrics.
 * A method left out of an implementation, or unknown, answers UNIMPLEMENTED.
 */
import { chmod } from "node:fs/promises";
import * as http2 from "node:http2";
import { create, fromBinary, isMessage, toBinary } from "@bufbuild/protobuf";
import type { DescMethod, DescMessage, Message } from "@bufbuild/protobuf";
import { internal, messageOf } from "@sandboxd/errdefs";
import { Code, toStatus, unimplemented, type StatusLike } from "./errors.js";
import { maxMessageBytes } from "./limits.js";
import { MessageReader, frame, parseTimeout, percentEncode } from "./wire.js";
import type { AnyService, ServerCall, ServiceImpl } from "./types.js";

export { maxMessageBytes };

export interface GrpcServerOptions {
  errorToStatus?: (err: unknown) => StatusLike;
  /** Called once per call with its outcome (code) and duration, for metrics and logs. */
  onCallDone?: (info: { path: string; code: number; durationMs: number; error?: unknown }) => void;
}

type AnyHandler = (request: Message, call: ServerCall) => unknown;

interface Route {
  method: DescMethod;
  handler: AnyHandler | undefined;
}

export class GrpcServer {
  readonly #server: http2.Http2Server;
  readonly #routes = new Map<string, Route>();
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  readonly #errorToStatus: (err: unknown) => StatusLike;
  readonly #onCallDone: GrpcServerOptions["onCallDone"];

  constructor(options: GrpcServerOptions = {}) {
    this.#errorToStatus = options.errorToStatus ?? toStatus;
    this.#onCallDone = options.onCallDone;
    this.#server = http2.createServer({
      maxSessionMemory: 64,
      settings: { initialWindowSize: 4 << 20 },
    });
    this.#server.on("session", (session) => {
      this.#sessions.add(session);
      session.on("close", () => this.#sessions.delete(session));
      session.on("error", () => undefined); // the session closes; its streams fail on their own
      session.on("connect", () => {
        try {
          session.setLocalWindowSize(64 << 20);
        } catch {
          // a session already closing
        }
      });
    });
    this.#server.on("stream", (stream, headers) => this.#call(stream, headers));
  }

  /** Registers an implementation; RPCs it leaves out answer UNIMPLEMENTED. */
  register<S extends AnyService>(service: S, impl: ServiceImpl<S>): this {
    for (const method of service.methods) {
      const handler = (impl as Record<string, AnyHandler | undefined>)[method.localName];
      this.#routes.set(`/${method.parent.typeName}/${method.name}`, { method, handler });
    }
    return this;
  }

  /** Listens on a unix socket path; the socket file gets `mode` (default 0o660). */
  async listenUnix(path: string, mode = 0o660): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once("error", onError);
      this.#server.listen(path, () => {
        this.#server.off("error", onError);
        resolve();
      });
    });
    await chmod(path, mode);
  }

  /** Stops accepting calls and waits for calls in flight (up to graceMs), then closes. */
  async shutdown(graceMs = 5000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const session of this.#sessions) session.close();
    const timer = setTimeout(() => this.forceShutdown(), graceMs);
    await closed;
    clearTimeout(timer);
  }

  forceShutdown(): void {
    this.#server.close();
    for (const session of this.#sessions) session.destroy();
  }

  #call(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const started = performance.now();
    const path = String(headers[":path"] ?? "");
    const call = new Call(stream, headers, path);
    const done = (code: number, error?: unknown): void =>
      this.#onCallDone?.({ path, code, durationMs: performance.now() - started, error });
    const fail = (err: unknown): void => {
      if (call.ended) {
        done(call.code, err);
        return;
      }
      const status = this.#errorToStatus(err);
      call.finish(status);
      done(status.code, err);
    };
    const route = this.#routes.get(path);
    if (!route?.handler) {
      call.drain();
      fail(unimplemented(`method ${route ? route.method.name : path} not implemented`));
      return;
    }
    const { method, handler } = route;
    if (method.methodKind === "bidi_streaming") {
      this.#duplex(call, method, handler).then(() => done(call.code), fail);
      return;
    }
    call.request().then(
      (bytes) => {
        if (call.ended) return;
        let request: Message;
        try {
          request = fromBinary(method.input, bytes);
        } catch (err) {
          fail(internal(`cannot parse (deserialize) the request: ${(err as Error).message}`));
          return;
        }
        if (method.methodKind === "server_streaming") {
          this.#stream(call, method, handler, request).then(() => done(call.code), fail);
          return;
        }
        Promise.resolve()
          .then(() => handler(request, call.serverCall))
          .then((result) => {
            call.reply(toBinary(method.output, toMessage(method.output, result)));
            done(call.code);
          }, fail);
      },
      (err: unknown) => fail(err),
    );
  }

  async #stream(
    call: Call,
    method: DescMethod,
    handler: AnyHandler,
    request: Message,
  ): Promise<void> {
    const items = handler(request, call.serverCall) as AsyncIterable<unknown>;
    for await (const item of items) {
      if (call.serverCall.signal.aborted) break;
      await call.send(toBinary(method.output, toMessage(method.output, item)));
    }
    call.finish({ code: Code.OK, message: "" });
  }

  /** A bidi-streaming call (content.v1 Write): requests read as the handler asks for them. */
  async #duplex(call: Call, method: DescMethod, handler: AnyHandler): Promise<void> {
    async function* requests(): AsyncGenerator<Message> {
      for await (const bytes of call.requests()) {
        try {
          yield fromBinary(method.input, bytes);
        } catch (err) {
          throw internal(`cannot decode the request: ${messageOf(err)}`);
        }
      }
    }
    const items = handler(requests() as unknown as Message, call.serverCall);
    for await (const item of items as AsyncIterable<unknown>) {
      if (call.serverCall.signal.aborted) break;
      await call.send(toBinary(method.output, toMessage(method.output, item)));
    }
    call.finish({ code: Code.OK, message: "" });
  }
}

/** One call's stream: its request, its ServerCall, and the reply or status sent once. */
class Call {
  readonly serverCall: ServerCall;
  readonly #stream: http2.ServerHttp2Stream;
  readonly #controller = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #responded = false;
  ended = false;
  /** The status the call ended with (Canceled when the client went away). */
  code: number = Code.OK;

  constructor(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, path: string) {
    this.#stream = stream;
    const timeout = parseTimeout(headers["grpc-timeout"]);
    const deadline = timeout === undefined ? undefined : Date.now() + timeout;
    if (timeout !== undefined) {
      this.#timer = setTimeout(() => {
        this.#controller.abort(new DOMException("context deadline exceeded", "TimeoutError"));
        this.finish({ code: Code.DeadlineExceeded, message: "Deadline exceeded" });
      }, timeout);
    }
    stream.on("close", () => {
      if (!this.ended) {
        this.code = Code.Canceled;
        this.#end();
        this.#controller.abort(new DOMException("call cancelled", "AbortError"));
      }
    });
    stream.on("error", () => undefined); // a reset stream: "close" follows
    this.serverCall = {
      signal: this.#controller.signal,
      deadline,
      path,
      header: (key) => {
        const value = headers[key.toLowerCase()];
        if (value === undefined) return undefined;
        return Array.isArray(value) ? value[0] : String(value);
      },
    };
  }

  /** The request message's bytes (the first message of the request stream). */
  request(): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const reader = new MessageReader(maxMessageBytes);
      let message: Uint8Array | undefined;
      this.#stream.on("data", (chunk: Buffer) => {
        if (message) return; // a unary or server-streaming call reads one message
        try {
          message = reader.push(chunk)[0];
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
        if (message) resolve(message);
      });
      this.#stream.on("end", () => {
        // As grpc-go and grpc-js: a request that does not parse is INTERNAL.
        reject(internal("cannot parse the request: no complete message in the request body"));
      });
    });
  }

  /** Every message of the request stream, until the client half-closes it. */
  async *requests(): AsyncGenerator<Uint8Array> {
    const reader = new MessageReader(maxMessageBytes);
    for await (const chunk of this.#stream as AsyncIterable<Buffer>) {
      let messages: Uint8Array[];
      try {
        messages = reader.push(chunk);
      } catch (err) {
        throw internal(`cannot parse the request: ${messageOf(err)}`);
      }
      yield* messages;
    }
  }

  /** Reads and drops the request (a call answered before reading it). */
  drain(): void {
    this.#stream.resume();
  }

  /** The unary reply, then status OK. */
  reply(bytes: Uint8Array): void {
    if (this.ended) return;
    this.#respond();
    this.#stream.write(frame(bytes));
    this.finish({ code: Code.OK, message: "" });
  }

  /** One message of a streamed reply; waits while the client does not read. */
  async send(bytes: Uint8Array): Promise<void> {
    if (this.ended) return;
    this.#respond();
    if (!this.#stream.write(frame(bytes))) {
      await new Promise<void>((resolve) => {
        const go = (): void => {
          this.#stream.off("drain", go);
          this.#stream.off("close", go);
          resolve();
        };
        this.#stream.on("drain", go);
        this.#stream.on("close", go);
      });
    }
  }

  /** Ends the call with `status`: in the trailers, or trailers-only before any reply. */
  finish(status: StatusLike): void {
    if (this.ended) return;
    this.code = status.code;
    this.#end();
    const s = this.#stream;
    if (s.closed || s.destroyed) return;
    const trailers = {
      "grpc-status": String(status.code),
      ...(status.message ? { "grpc-message": percentEncode(status.message) } : {}),
    };
    if (!this.#responded) {
      this.#responded = true;
      s.respond(
        { ":status": 200, "content-type": "application/grpc", ...trailers },
        {
          endStream: true,
        },
      );
      return;
    }
    s.once("wantTrailers", () => s.sendTrailers(trailers));
    s.end();
  }

  #respond(): void {
    if (this.#responded) return;
    this.#responded = true;
    this.#stream.respond(
      { ":status": 200, "content-type": "application/grpc" },
      { waitForTrailers: true },
    );
  }

  #end(): void {
    this.ended = true;
    clearTimeout(this.#timer);
    if (!this.#controller.signal.aborted) {
      this.#controller.abort(new DOMException("call ended", "AbortError"));
    }
  }
}

function toMessage(schema: DescMessage, value: unknown): Message {
  if (isMessage(value, schema)) return value;
  return create(schema, (value ?? {}) as never);
}
