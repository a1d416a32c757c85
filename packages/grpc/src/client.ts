/**
 * A typed gRPC client for protobuf-es services, speaking gRPC's HTTP/2
 * protocol on a plain unix socket through h2/ (unary and server-streaming
 * calls: all that containerd's API and sandboxd's clients use). Loading
 * @grpc/grpc-js cost an `sbx` call about 40 ms of CPU before its first byte,
 * node:http2 still about 120 M instructions (docs/benchmarks-startup.md); h2/
 * loads node:net and nothing else. Wire statuses come back as
 * errdefs errors (fromStatus), so `isNotFound(err)` works across the socket;
 * a daemon that is not listening is Unavailable, naming the address.
 *
 * One HTTP/2 session per Channel, made on the first call and made again after
 * the server goes away; it keeps the process alive only while calls are in
 * flight (an idle Channel does not hold the event loop, as with grpc-js).
 */
import { cannotReachText } from "@sandboxd/core/messages";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMethod, Message } from "@bufbuild/protobuf";
import { Code, fromStatus, toStatus, unavailable } from "./errors.js";
import { ErrorCode } from "./h2/frames.js";
import { H2Session, type H2Stream, type Headers } from "./h2/session.js";
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
  #session: H2Session | undefined;
  /** Every session whose socket is open, the draining ones (after GOAWAY) too. */
  readonly #sessions = new Set<H2Session>();
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
    for (const session of this.#sessions) session.destroy();
    this.#sessions.clear();
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
   * One call: the request (bidi: each request as the iterable yields it, sent
   * as the stream's window allows, then a half-close), and every reply message
   * until the status.
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
    const call = new Call(this.address);
    const stream = this.#request(method, options, deadline, call, body && frame(body));
    call.stream = stream;
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
      if (!body) void pumpRequests(method, request as AsyncIterable<unknown>, stream, call);
      for (;;) {
        const next = await call.next();
        if (next === undefined) return;
        yield fromBinary(method.output, next);
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      call.end({ code: Code.Canceled, message: "Cancelled on client" });
      if (--this.#active === 0) for (const s of this.#sessions) s.unref();
    }
  }

  #request(
    method: DescMethod,
    options: CallOptions,
    deadline: number | undefined,
    call: Call,
    body: Buffer | undefined,
  ): H2Stream {
    // Pseudo-headers first (RFC 9113 §8.3); metadata keys are lowercase and never pseudo.
    const fields: [string, string][] = [
      [":method", "POST"],
      [":scheme", "http"],
      [":path", `/${method.parent.typeName}/${method.name}`],
      [":authority", "localhost"],
      ["content-type", "application/grpc"],
      ["te", "trailers"],
    ];
    if (deadline !== undefined) fields.push(["grpc-timeout", grpcTimeout(deadline - Date.now())]);
    const metadata = { ...this.#metadata, ...options.metadata };
    for (const [key, value] of Object.entries(metadata)) {
      fields.push([key.toLowerCase(), value]);
    }
    return this.#connected().open(fields, call, body);
  }

  #connected(): H2Session {
    if (this.#closed) {
      throw unavailable(`${cannotReachText} ${this.address}: the channel is closed`);
    }
    const current = this.#session;
    if (current?.usable) return current;
    const session: H2Session = new H2Session(
      this.#path,
      () => {
        if (this.#session === session) this.#session = undefined;
      },
      () => this.#sessions.delete(session),
    );
    this.#session = session;
    this.#sessions.add(session);
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

/** Writes a bidi call's requests as they come, one window's worth at a time, then half-closes. */
async function pumpRequests(
  method: DescMethod,
  requests: AsyncIterable<unknown>,
  stream: H2Stream,
  call: Call,
): Promise<void> {
  try {
    for await (const request of requests) {
      if (call.over) return;
      stream.write(frame(encode(method, request)));
      await Promise.race([stream.drained(), call.settled]);
    }
    if (!call.over) stream.write(Buffer.alloc(0), true);
  } catch (err) {
    call.end(toStatus(err));
  }
}

/** One stream: the reply messages as they are read, then the status. */
class Call {
  stream: H2Stream | undefined;
  readonly #address: string;
  readonly #reader = new MessageReader(maxMessageBytes);
  readonly #queue: Uint8Array[] = [];
  /** The server's status, from the trailers (or a trailers-only reply). */
  #trailers: WireStatus | undefined;
  /** The call's outcome: the server's status once the stream closed, or a local end. */
  #status: WireStatus | undefined;
  #wake: (() => void) | undefined;
  #sawHeaders = false;
  #onSettled!: () => void;
  /** Resolves when the call has its outcome. */
  readonly settled = new Promise<void>((resolve) => (this.#onSettled = resolve));

  constructor(address: string) {
    this.#address = address;
  }

  headers(headers: Headers, end: boolean): void {
    if (!this.#sawHeaders) {
      this.#sawHeaders = true;
      const httpStatus = Number(headers[":status"]);
      if (httpStatus !== 200) {
        this.#trailers = { code: httpCode(httpStatus), message: `HTTP status ${httpStatus}` };
      } else if (headers["grpc-status"] !== undefined) {
        this.#trailers = statusOf(headers); // trailers-only
      }
    } else {
      this.#trailers ??= statusOf(headers);
    }
    if (end) this.end(this.#closedStatus(undefined));
  }

  data(chunk: Buffer): void {
    try {
      for (const m of this.#reader.push(chunk)) this.#queue.push(m);
    } catch (err) {
      this.end(toStatus(err));
    }
    this.#wake?.();
  }

  /** The server ended its side with a DATA frame: a status never came. */
  end(status?: WireStatus): void {
    this.#settle(status ?? this.#closedStatus(undefined));
    this.stream?.cancel();
  }

  failed(reason: string, code: number | undefined): void {
    if (code === ErrorCode.Cancel && this.#trailers === undefined) {
      this.#settle({ code: Code.Canceled, message: reason });
      return;
    }
    this.#settle(
      this.#trailers ?? {
        code: Code.Unavailable,
        message: `${cannotReachText} ${this.#address}: ${reason}`,
      },
    );
  }

  #closedStatus(code: number | undefined): WireStatus {
    return (
      this.#trailers ?? {
        code: Code.Unavailable,
        message: `${cannotReachText} ${this.#address}: the stream closed without a status${code === undefined ? "" : ` (code ${code})`}`,
      }
    );
  }

  #settle(status: WireStatus): void {
    if (this.#status) return;
    this.#status = status;
    this.#onSettled();
    this.#wake?.();
  }

  /** Whether the call has its outcome (nothing more is sent). */
  get over(): boolean {
    return this.#status !== undefined;
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
