/**
 * A typed gRPC client for protobuf-es services on @grpc/grpc-js. Wire statuses
 * come back as errdefs errors (fromStatus), so `isNotFound(err)` works across
 * the socket; a daemon that is not listening is Unavailable.
 */
import { cannotReachText } from "@sandboxd/core/messages";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMethod, Message } from "@bufbuild/protobuf";
import { Code, fromStatus, unavailable } from "./errors.js";
import { maxMessageBytes } from "./server.js";
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
  readonly #client: grpc.Client;
  readonly #metadata: Record<string, string>;

  constructor(address: string, options: ChannelOptions = {}) {
    this.address = address;
    const target = address.startsWith("unix:") ? address : `unix://${address}`;
    this.#client = new grpc.Client(target, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": maxMessageBytes,
      "grpc.max_send_message_length": maxMessageBytes,
      // A local daemon either answers or is down: do not hold calls back retrying.
      "grpc.enable_retries": 0,
    });
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
          : (request: unknown, options?: CallOptions) => this.#unary(method, request, options);
    }
    return client as Client<S>;
  }

  close(): void {
    this.#client.close();
  }

  #unary(method: DescMethod, request: unknown, options: CallOptions = {}): Promise<Message> {
    const message = create(method.input, request as never) as Message;
    return new Promise<Message>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(asError(options.signal.reason));
        return;
      }
      const call = this.#client.makeUnaryRequest(
        pathOf(method),
        (m: Message) => Buffer.from(toBinary(method.input, m)),
        (bytes: Buffer) => fromBinary(method.output, bytes) as Message,
        message,
        this.#metadataFor(options),
        callOptionsFor(options),
        (err, response) => {
          options.signal?.removeEventListener("abort", onAbort);
          if (err) reject(toError(err, this.address));
          else resolve(response as Message);
        },
      );
      const onAbort = (): void => call.cancel();
      options.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  async *#serverStream(
    method: DescMethod,
    request: unknown,
    options: CallOptions = {},
  ): AsyncIterable<Message> {
    const message = create(method.input, request as never) as Message;
    const call = this.#client.makeServerStreamRequest(
      pathOf(method),
      (m: Message) => Buffer.from(toBinary(method.input, m)),
      (bytes: Buffer) => fromBinary(method.output, bytes) as Message,
      message,
      this.#metadataFor(options),
      callOptionsFor(options),
    );
    const onAbort = (): void => call.cancel();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const item of call as AsyncIterable<Message>) yield item;
    } catch (err) {
      if (options.signal?.aborted) return;
      throw toError(err, this.address);
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      call.cancel();
    }
  }

  #metadataFor(options: CallOptions): grpc.Metadata {
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries({ ...this.#metadata, ...options.metadata })) {
      metadata.set(key, value);
    }
    return metadata;
  }
}

function pathOf(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function callOptionsFor(options: CallOptions): grpc.CallOptions {
  const candidates = [
    options.deadline,
    options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs,
  ].filter((d): d is number => d !== undefined);
  return candidates.length ? { deadline: new Date(Math.min(...candidates)) } : {};
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new DOMException(String(reason), "AbortError");
}

function toError(err: unknown, address: string): Error {
  const e = err as Partial<grpc.ServiceError>;
  if (typeof e.code !== "number") return asError(err);
  if (Number(e.code) === Code.Unavailable) {
    return unavailable(`${cannotReachText} ${address}: ${e.details ?? "connection failed"}`, {
      cause: err,
    });
  }
  return fromStatus({ code: e.code, message: e.details ?? "" });
}
