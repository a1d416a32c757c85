/**
 * A gRPC server for protobuf-es services on @grpc/grpc-js. Every call goes
 * through one wrapper: it builds the handler's ServerCall (signal, deadline,
 * headers), maps a thrown error to a gRPC status exactly once (errdefs'
 * toStatus, or the errorToStatus hook), and reports the outcome to onCallDone
 * for metrics.
 */
import type { Readable } from "node:stream";
import { chmod } from "node:fs/promises";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, isMessage, toBinary } from "@bufbuild/protobuf";
import type { DescMethod, DescMessage, Message } from "@bufbuild/protobuf";
import { Code, toStatus, unimplemented, type StatusLike } from "./errors.js";
import type { AnyService, ServerCall, ServiceImpl } from "./types.js";

/** containerd's limit: 16 MiB each way. */
export { maxMessageBytes } from "./limits.js";
import { maxMessageBytes } from "./limits.js";

export interface GrpcServerOptions {
  errorToStatus?: (err: unknown) => StatusLike;
  /**
   * Awaited before each unary reply, success or error (e.g. a storage's group commit, so
   * that a reply means the call's writes are durable); a rejection becomes the reply.
   */
  beforeReply?: () => Promise<void>;
  /** Called once per call with its outcome (code) and duration, for metrics and logs. */
  onCallDone?: (info: { path: string; code: number; durationMs: number; error?: unknown }) => void;
}

type AnyHandler = (request: Message, call: ServerCall) => unknown;

export class GrpcServer {
  readonly #server: grpc.Server;
  readonly #errorToStatus: (err: unknown) => StatusLike;
  readonly #onCallDone: GrpcServerOptions["onCallDone"];
  readonly #beforeReply: () => Promise<void>;

  constructor(options: GrpcServerOptions = {}) {
    this.#server = new grpc.Server({
      "grpc.max_receive_message_length": maxMessageBytes,
      "grpc.max_send_message_length": maxMessageBytes,
    });
    this.#errorToStatus = options.errorToStatus ?? toStatus;
    this.#onCallDone = options.onCallDone;
    this.#beforeReply = options.beforeReply ?? (() => Promise.resolve());
  }

  /** Registers an implementation; RPCs it leaves out answer UNIMPLEMENTED. */
  register<S extends AnyService>(service: S, impl: ServiceImpl<S>): this {
    const definition: Record<string, grpc.MethodDefinition<Message, Message>> = {};
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const method of service.methods) {
      definition[method.localName] = methodDefinition(method);
      const handler = (impl as Record<string, AnyHandler | undefined>)[method.localName];
      handlers[method.localName] =
        method.methodKind === "server_streaming"
          ? this.#serverStreaming(method, handler)
          : method.methodKind === "bidi_streaming"
            ? this.#bidiStreaming(method, handler)
            : this.#unary(method, handler);
    }
    this.#server.addService(definition, handlers);
    return this;
  }

  /** Listens on a unix socket path; the socket file gets `mode` (default 0o660). */
  async listenUnix(path: string, mode = 0o660): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.bindAsync(`unix://${path}`, grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      );
    });
    await chmod(path, mode);
  }

  /** Stops accepting calls and waits for calls in flight (up to graceMs), then closes. */
  async shutdown(graceMs = 5000): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, graceMs);
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  forceShutdown(): void {
    this.#server.forceShutdown();
  }

  #unary(
    method: DescMethod,
    handler: AnyHandler | undefined,
  ): grpc.handleUnaryCall<Message, Message> {
    return (call, callback) => {
      const started = performance.now();
      const { serverCall, end } = serverCallOf(call);
      const finish = (err: unknown, response?: Message): void => {
        end();
        if (err === undefined) {
          callback(null, response);
          this.#done(serverCall.path, Code.OK, started);
        } else {
          const status = this.#errorToStatus(err);
          callback({ code: status.code, details: status.message });
          this.#done(serverCall.path, status.code, started, err);
        }
      };
      if (!handler) {
        finish(unimplemented(`method ${method.name} not implemented`));
        return;
      }
      Promise.resolve()
        .then(() => handler(call.request, serverCall))
        .then(
          async (result) => {
            const response = toMessage(method.output, result);
            await this.#beforeReply();
            return response;
          },
          async (err: unknown) => {
            await this.#beforeReply().catch(() => undefined);
            throw err;
          },
        )
        .then(
          (response) => finish(undefined, response),
          (err: unknown) => finish(err),
        );
    };
  }

  #serverStreaming(
    method: DescMethod,
    handler: AnyHandler | undefined,
  ): grpc.handleServerStreamingCall<Message, Message> {
    return (call) => this.#streamReplies(method, handler, call, () => call.request);
  }

  /** Bidi: the handler reads the requests as an async iterable and yields responses. */
  #bidiStreaming(
    method: DescMethod,
    handler: AnyHandler | undefined,
  ): grpc.handleBidiStreamingCall<Message, Message> {
    return (call) =>
      // A duplex call has the writable call's surface (cancelled, deadline, metadata).
      this.#streamReplies(
        method,
        handler,
        call as unknown as grpc.ServerWritableStream<Message, Message>,
        // Not destroyed when the handler stops reading early (content.v1 Write of a blob the
        // store has: one reply, then the status): a destroyed duplex never sends its status.
        () => (call as unknown as Readable).iterator({ destroyOnReturn: false }),
      );
  }

  /**
   * A call whose replies stream: the handler, given `input()` as its request,
   * yields them; each is written as the call drains, then the status.
   */
  #streamReplies(
    method: DescMethod,
    handler: AnyHandler | undefined,
    call: grpc.ServerWritableStream<Message, Message>,
    input: () => unknown,
  ): void {
    const started = performance.now();
    const { serverCall, end } = serverCallOf(call);
    const fail = (err: unknown): void => {
      end();
      const status = this.#errorToStatus(err);
      call.emit("error", { code: status.code, details: status.message });
      this.#done(serverCall.path, status.code, started, err);
    };
    if (!handler) {
      fail(unimplemented(`method ${method.name} not implemented`));
      return;
    }
    const pump = async (): Promise<void> => {
      const stream = handler(input() as Message, serverCall) as AsyncIterable<unknown>;
      for await (const item of stream) {
        if (serverCall.signal.aborted) break;
        if (!call.write(toMessage(method.output, item))) {
          await new Promise((resolve) => call.once("drain", resolve));
        }
      }
    };
    pump().then(
      () => {
        end();
        if (!call.cancelled) call.end();
        this.#done(serverCall.path, call.cancelled ? Code.Canceled : Code.OK, started);
      },
      (err: unknown) => fail(err),
    );
  }

  #done(path: string, code: number, started: number, error?: unknown): void {
    this.#onCallDone?.({ path, code, durationMs: performance.now() - started, error });
  }
}

function methodDefinition(method: DescMethod): grpc.MethodDefinition<Message, Message> {
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    requestStream:
      method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream:
      method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: (message: Message) => Buffer.from(toBinary(method.input, message)),
    requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
    responseSerialize: (message: Message) => Buffer.from(toBinary(method.output, message)),
    responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
    originalName: method.localName,
  };
}

function toMessage(schema: DescMessage, value: unknown): Message {
  if (isMessage(value, schema)) return value;
  return create(schema, (value ?? {}) as never);
}

/** The ServerCall for a grpc-js call, and `end` to release its timer and listeners. */
function serverCallOf(
  call: grpc.ServerUnaryCall<Message, Message> | grpc.ServerWritableStream<Message, Message>,
): { serverCall: ServerCall; end: () => void } {
  const controller = new AbortController();
  const onCancelled = (): void =>
    controller.abort(new DOMException("call cancelled", "AbortError"));
  call.on("cancelled", onCancelled);
  const rawDeadline = call.getDeadline();
  const deadlineMs = rawDeadline instanceof Date ? rawDeadline.getTime() : rawDeadline;
  const deadline = Number.isFinite(deadlineMs) ? deadlineMs : undefined;
  let timer: NodeJS.Timeout | undefined;
  if (deadline !== undefined) {
    timer = setTimeout(
      () => controller.abort(new DOMException("context deadline exceeded", "TimeoutError")),
      Math.max(0, deadline - Date.now()),
    );
  }
  const serverCall: ServerCall = {
    signal: controller.signal,
    deadline,
    path: call.getPath(),
    header: (key) => {
      const value = call.metadata.get(key)[0];
      return value === undefined ? undefined : String(value);
    },
  };
  const end = (): void => {
    clearTimeout(timer);
    call.off("cancelled", onCancelled);
    if (!controller.signal.aborted) controller.abort(new DOMException("call ended", "AbortError"));
  };
  return { serverCall, end };
}
