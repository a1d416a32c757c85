/**
 * A typed gRPC client for protobuf-es services, speaking gRPC's HTTP/2
 * protocol directly on node:http2 (unary, server-streaming and bidi calls over a
 * unix socket: all that containerd's API and sandboxd's use), as the server
 * in server.ts does. Loading @grpc/grpc-js cost an `sbx` call about 40 ms of
 * CPU before its first byte; this client loads node:http2 and nothing else. Wire statuses come back as
 * errdefs errors (fromStatus), so `isNotFound(err)` works across the socket;
 * a daemon that is not listening is Unavailable, naming the address.
 *
 * One HTTP/2 session per Channel, made on the first call and made again after
 * the server goes away; it keeps the process alive only while calls are in
 * flight (an idle Channel does not hold the event loop, as with grpc-js).
 */
import { cannotReachText } from "@sandboxd/core/messages";
import * as http2 from "node:http2";
import { connect as netConnect } from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMethod, Message } from "@bufbuild/protobuf";
import { Code, fromStatus, toStatus, unavailable } from "./errors.js";
import { maxMessageBytes } from "./limits.js";
import { MessageReader, frame, grpcTimeout, statusOf, type WireStatus } from "./wire.js";
import type { AnyService, CallOptions, Client } from "./types.js";

export interface ChannelOptions {
  /** Headers sent with every call, e.g. `containerd-namespace`. Per-call metadata wins. */
  metadata?: Record<string, string>;
}

/**
 * One connection to a gRPC server at a unix socket path (or a `unix://` / `unix:`
 * address), shared by the typed clients made from it.
 */
export class Channel {
  readonly address: string;
  readonly #path: string;
  readonly #metadata: Record<string, string>;
  #session: http2.ClientHttp2Session | undefined;
  #active = 0;
  #closed = false;

  constructor(address: string, options: ChannelOptions = {}) {
    this.address = address;
    this.#path = address.replace(/^unix:(\/\/)?/, "");
    this.#metadata = options.metadata ?? {};
  }

  /** A typed client for `service` over this channel. */
  client<S extends AnyService>(service: S): Client<S> {
    const client: Record<string, unknown> = {};
    for (const method of service.methods) {
      client[method.localName] =
        method.methodKind === "server_streaming"
          ? (request: unknown, options?: CallOptions) =>
              this.#serverStream(method, request, options)
          : method.methodKind === "bidi_streaming"
            ? (requests: AsyncIterable<unknown>, options?: CallOptions) =>
                this.#call(method, requests, options ?? {})
            : (request: unknown, options?: CallOptions) => this.#unary(method, request, options);
    }
    return client as Client<S>;
  }

  /** Ends the connection; calls in flight fail, later calls are refused. */
  close(): void {
    this.#closed = true;
    this.#session?.destroy();
    this.#session = undefined;
  }

  async #unary(method: DescMethod, request: unknown, options: CallOptions = {}): Promise<Message> {
    let reply: Message | undefined;
    for await (const m of this.#call(method, request, options)) {
      if (reply) throw fromStatus({ code: Code.Unimplemented, message: "more than one reply" });
      reply = m;
    }
    if (!reply) throw fromStatus({ code: Code.Unimplemented, message: "no reply message" });
    return reply;
  }

  async *#serverStream(
    method: DescMethod,
    request: unknown,
    options: CallOptions = {},
  ): AsyncIterable<Message> {
    try {
      yield* this.#call(method, request, options);
    } catch (err) {
      if (options.signal?.aborted) return;
      throw err;
    }
  }

  /**
   * One call: the request (or, bidi, each request as the iterable yields it,
   * then a half-close), and every reply message until the status.
   */
  async *#call(
    method: DescMethod,
    request: unknown,
    options: CallOptions,
  ): AsyncGenerator<Message> {
    const bidi = method.methodKind === "bidi_streaming";
    const body = bidi ? undefined : encode(method, request);
    const signal = options.signal;
    if (signal?.aborted) throw asError(signal.reason);
    const deadline = deadlineOf(options);
    if (deadline !== undefined && deadline <= Date.now()) {
      throw fromStatus({ code: Code.DeadlineExceeded, message: "Deadline exceeded" });
    }
    const call = new Call(this.#request(method, options, deadline), this.address);
    this.#active++;
    this.#session?.ref();
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => call.end({ code: Code.Canceled, message: "Cancelled on client" });
    signal?.addEventListener("abort", onAbort, { once: true });
    if (deadline !== undefined) {
      timer = setTimeout(
        () => call.end({ code: Code.DeadlineExceeded, message: "Deadline exceeded" }),
        deadline - Date.now(),
      );
    }
    try {
      if (body) call.stream.end(frame(body));
      else void pumpRequests(method, request as AsyncIterable<unknown>, call);
      for (;;) {
        const next = await call.next();
        if (next === undefined) return;
        yield fromBinary(method.output, next);
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      call.end({ code: Code.Canceled, message: "Cancelled on client" });
      if (--this.#active === 0) this.#session?.unref();
    }
  }

  #request(method: DescMethod, options: CallOptions, deadline: number | undefined) {
    const headers: http2.OutgoingHttpHeaders = {
      ...this.#metadata,
      ...options.metadata,
      ":method": "POST",
      ":path": `/${method.parent.typeName}/${method.name}`,
      ":scheme": "http",
      ":authority": "localhost",
      "content-type": "application/grpc",
      te: "trailers",
    };
    if (deadline !== undefined) headers["grpc-timeout"] = grpcTimeout(deadline - Date.now());
    return this.#connected().request(headers);
  }

  #connected(): http2.ClientHttp2Session {
    if (this.#closed) {
      throw unavailable(`${cannotReachText} ${this.address}: the channel is closed`);
    }
    const current = this.#session;
    if (current && !current.closed && !current.destroyed) return current;
    const path = this.#path;
    const session = http2.connect("http://localhost", {
      createConnection: () => netConnect(path),
      maxSessionMemory: 64,
      settings: { enablePush: false, initialWindowSize: 4 << 20 },
    });
    const forget = (): void => {
      if (this.#session === session) this.#session = undefined;
    };
    // A failed connect shows on each stream; the session's own error only ends it.
    session.on("error", forget);
    session.on("goaway", forget);
    session.on("close", forget);
    session.on("connect", () => session.setLocalWindowSize(64 << 20));
    this.#session = session;
    return session;
  }
}

function encode(method: DescMethod, request: unknown): Uint8Array {
  const body = toBinary(method.input, create(method.input, request as never) as Message);
  if (body.length > maxMessageBytes) {
    throw fromStatus({
      code: Code.ResourceExhausted,
      message: `request of ${body.length} bytes is over the limit of ${maxMessageBytes}`,
    });
  }
  return body;
}

/** Writes a bidi call's requests as they come (waiting for drain), then half-closes. */
async function pumpRequests(
  method: DescMethod,
  requests: AsyncIterable<unknown>,
  call: Call,
): Promise<void> {
  const stream = call.stream;
  try {
    for await (const request of requests) {
      if (stream.closed || stream.destroyed) return;
      if (!stream.write(frame(encode(method, request)))) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            stream.off("drain", done);
            stream.off("close", done);
            resolve();
          };
          stream.on("drain", done);
          stream.on("close", done);
        });
      }
    }
    if (!stream.closed && !stream.destroyed) stream.end();
  } catch (err) {
    call.end(toStatus(err));
  }
}

/** One stream: the reply messages as they are read, then the status. */
class Call {
  readonly stream: http2.ClientHttp2Stream;
  readonly #address: string;
  readonly #reader = new MessageReader(maxMessageBytes);
  readonly #queue: Uint8Array[] = [];
  /** The server's status, from the trailers (or a trailers-only reply). */
  #trailers: WireStatus | undefined;
  /** The call's outcome: the server's status once the stream closed, or a local end. */
  #status: WireStatus | undefined;
  #wake: (() => void) | undefined;

  constructor(stream: http2.ClientHttp2Stream, address: string) {
    this.stream = stream;
    this.#address = address;
    stream.on("response", (headers) => {
      const httpStatus = Number(headers[":status"]);
      if (httpStatus !== 200) {
        this.#trailers = { code: httpCode(httpStatus), message: `HTTP status ${httpStatus}` };
      } else if (headers["grpc-status"] !== undefined) {
        this.#trailers = statusOf(headers); // trailers-only
      }
    });
    stream.on("data", (chunk: Buffer) => {
      try {
        for (const m of this.#reader.push(chunk)) this.#queue.push(m);
      } catch (err) {
        this.end(toStatus(err));
      }
      this.#wake?.();
    });
    stream.on("trailers", (trailers: http2.IncomingHttpHeaders) => {
      this.#trailers ??= statusOf(trailers);
      // A bidi call whose client has not half-closed gets no "close": the status ends it.
      this.#settle(this.#trailers);
    });
    stream.on("error", (err: Error) => {
      this.end({
        code: Code.Unavailable,
        message: `${cannotReachText} ${this.#address}: ${err.message}`,
      });
    });
    stream.on("close", () => {
      this.#settle(
        this.#trailers ?? {
          code: Code.Unavailable,
          message: `${cannotReachText} ${this.#address}: the stream closed without a status (code ${stream.rstCode})`,
        },
      );
    });
  }

  /** Ends the call here (cancel, deadline, a bad reply): the first outcome wins. */
  end(status: WireStatus): void {
    this.#settle(status);
    if (!this.stream.closed && !this.stream.destroyed) {
      this.stream.close(http2.constants.NGHTTP2_CANCEL);
    }
  }

  #settle(status: WireStatus): void {
    if (this.#status) return;
    this.#status = status;
    this.#wake?.();
  }

  /** The next reply message, undefined after an OK status, or the status as an error. */
  async next(): Promise<Uint8Array | undefined> {
    for (;;) {
      const status = this.#status;
      if (status && status.code !== Code.OK) throw errorOf(status);
      const m = this.#queue.shift();
      if (m) return m;
      if (status) return undefined;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}

function errorOf(status: WireStatus): Error {
  if (status.code === Code.Unavailable) {
    const message = status.message.startsWith(cannotReachText)
      ? status.message
      : `${cannotReachText} the server: ${status.message}`;
    return unavailable(message);
  }
  return fromStatus(status);
}

/** gRPC's mapping of HTTP statuses for a reply that is not gRPC. */
function httpCode(status: number): number {
  switch (status) {
    case 400:
      return Code.Internal;
    case 401:
      return Code.Unauthenticated;
    case 403:
      return Code.PermissionDenied;
    case 404:
      return Code.Unimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return Code.Unavailable;
    default:
      return Code.Unknown;
  }
}

function deadlineOf(options: CallOptions): number | undefined {
  const candidates = [
    options.deadline,
    options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs,
  ].filter((d): d is number => d !== undefined);
  return candidates.length ? Math.min(...candidates) : undefined;
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new DOMException(String(reason), "AbortError");
}
