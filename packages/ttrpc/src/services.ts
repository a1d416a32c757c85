/**
 * Method registration and lookup. The server dispatches on what is registered (as Go's
 * does), never on the request's flags. Two layers: raw handlers on bytes, registered by
 * service and method name (so one implementation can serve under two names, e.g.
 * `containerd.task.v2.Task` and `containerd.task.v3.Task`), and typed implementations of
 * a protobuf-es service descriptor, adapted onto the raw layer.
 */
import type {
  DescMessage,
  DescMethod,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import { encodeMessage, decodeMessage } from "./codec.js";
import { Code } from "./code.js";
import { TtrpcError } from "./errors.js";
import type { Metadata } from "./metadata.js";

/** What a handler knows about its call. */
export interface HandlerContext {
  /**
   * Aborts when the deadline passes (reason: a DEADLINE_EXCEEDED TtrpcError), when the
   * connection closes, and when the call ends. Work that must outlive the call must not
   * listen to it.
   */
  readonly signal: AbortSignal;
  /** The caller's deadline in epoch ms (from `timeout_nano`), if it sent one. */
  readonly deadline: number | undefined;
  /** Request metadata; keys are lower-case. */
  readonly metadata: Metadata;
  readonly service: string;
  readonly method: string;
  readonly streamId: number;
}

export type MethodKind = DescMethod["methodKind"];

export type UnaryHandler = (
  request: Uint8Array,
  ctx: HandlerContext,
) => Uint8Array | Promise<Uint8Array>;
export type ServerStreamingHandler = (
  request: Uint8Array,
  ctx: HandlerContext,
) => AsyncIterable<Uint8Array>;
export type ClientStreamingHandler = (
  requests: AsyncIterable<Uint8Array>,
  ctx: HandlerContext,
) => Promise<Uint8Array>;
export type BidiStreamingHandler = (
  requests: AsyncIterable<Uint8Array>,
  ctx: HandlerContext,
) => AsyncIterable<Uint8Array>;

/** A handler on bytes, with the shape of call it serves. */
export type RawMethod =
  | { readonly kind: "unary"; readonly handler: UnaryHandler }
  | { readonly kind: "server_streaming"; readonly handler: ServerStreamingHandler }
  | { readonly kind: "client_streaming"; readonly handler: ClientStreamingHandler }
  | { readonly kind: "bidi_streaming"; readonly handler: BidiStreamingHandler };

type MaybePromise<T> = T | Promise<T>;

/** What a typed streaming method may produce or take: an async or a plain iterable. */
export type Streamable<T> = AsyncIterable<T> | Iterable<T>;

/** The typed implementation of one method, derived from its descriptor. */
export type MethodImpl<M> = M extends {
  methodKind: infer K;
  input: infer I extends DescMessage;
  output: infer O extends DescMessage;
}
  ? K extends "unary"
    ? (request: MessageShape<I>, ctx: HandlerContext) => MaybePromise<MessageInitShape<O>>
    : K extends "server_streaming"
      ? (request: MessageShape<I>, ctx: HandlerContext) => Streamable<MessageInitShape<O>>
      : K extends "client_streaming"
        ? (
            requests: AsyncIterable<MessageShape<I>>,
            ctx: HandlerContext,
          ) => Promise<MessageInitShape<O>>
        : (
            requests: AsyncIterable<MessageShape<I>>,
            ctx: HandlerContext,
          ) => Streamable<MessageInitShape<O>>
  : never;

/**
 * A typed implementation of a service: one method per RPC, keyed by the descriptor's
 * `localName` (`create` for `Create`). Methods left out answer UNIMPLEMENTED.
 */
export type ServiceImpl<S extends DescService> = {
  [K in keyof S["method"]]?: MethodImpl<S["method"][K]>;
};

export class ServiceRegistry {
  readonly #services = new Map<string, Map<string, RawMethod>>();

  add(service: string, method: string, def: RawMethod): void {
    let methods = this.#services.get(service);
    if (methods === undefined) {
      methods = new Map();
      this.#services.set(service, methods);
    }
    if (methods.has(method))
      throw new Error(`ttrpc: duplicate method ${service}/${method} registered`);
    methods.set(method, def);
  }

  /** The registered method, or the UNIMPLEMENTED error Go's server answers with. */
  lookup(service: string, method: string): RawMethod | TtrpcError {
    const methods = this.#services.get(service);
    if (methods === undefined) return new TtrpcError(Code.Unimplemented, `service ${service}`);
    return methods.get(method) ?? new TtrpcError(Code.Unimplemented, `method ${method}`);
  }

  addService<S extends DescService>(
    desc: S,
    impl: ServiceImpl<S>,
    serviceName = desc.typeName,
  ): void {
    for (const method of desc.methods) {
      const fn = (impl as Record<string, unknown>)[method.localName];
      if (typeof fn !== "function") continue;
      this.add(serviceName, method.name, adaptMethod(method, fn.bind(impl) as AnyImpl));
    }
  }
}

type AnyImpl = (input: unknown, ctx: HandlerContext) => unknown;

function adaptMethod(method: DescMethod, fn: AnyImpl): RawMethod {
  const { input, output } = method;
  switch (method.methodKind) {
    case "unary":
      return {
        kind: "unary",
        handler: async (bytes, ctx) =>
          encodeMessage(output, await fn(decodeMessage(input, bytes), ctx)),
      };
    case "server_streaming":
      return {
        kind: "server_streaming",
        handler: (bytes, ctx) =>
          encodeAll(output, fn(decodeMessage(input, bytes), ctx) as Streamable<unknown>),
      };
    case "client_streaming":
      return {
        kind: "client_streaming",
        handler: async (requests, ctx) =>
          encodeMessage(output, await fn(decodeAll(input, requests), ctx)),
      };
    case "bidi_streaming":
      return {
        kind: "bidi_streaming",
        handler: (requests, ctx) =>
          encodeAll(output, fn(decodeAll(input, requests), ctx) as Streamable<unknown>),
      };
  }
}

async function* decodeAll<D extends DescMessage>(
  schema: D,
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<MessageShape<D>> {
  for await (const bytes of source) yield decodeMessage(schema, bytes);
}

async function* encodeAll(
  schema: DescMessage,
  source: Streamable<unknown>,
): AsyncGenerator<Uint8Array> {
  for await (const message of source) yield encodeMessage(schema, message);
}
