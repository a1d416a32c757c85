/**
 * A typed client for a protobuf-es service descriptor: one method per RPC, named by its
 * `localName`, taking and returning messages. Built on {@link Client}'s byte-level calls.
 */
import type {
  DescMessage,
  DescMethod,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import type { CallOptions, Client } from "./client.js";
import type { ClientStreamCall } from "./client-stream.js";
import { decodeMessage, encodeMessage } from "./codec.js";
import type { Streamable } from "./services.js";

export type TypedMethod<M> = M extends {
  methodKind: infer K;
  input: infer I extends DescMessage;
  output: infer O extends DescMessage;
}
  ? K extends "unary"
    ? (request: MessageInitShape<I>, options?: CallOptions) => Promise<MessageShape<O>>
    : K extends "server_streaming"
      ? (request: MessageInitShape<I>, options?: CallOptions) => AsyncIterable<MessageShape<O>>
      : K extends "client_streaming"
        ? (
            requests: Streamable<MessageInitShape<I>>,
            options?: CallOptions,
          ) => Promise<MessageShape<O>>
        : (
            requests: Streamable<MessageInitShape<I>>,
            options?: CallOptions,
          ) => AsyncIterable<MessageShape<O>>
  : never;

/** The typed client of service `S`. */
export type TypedClient<S extends DescService> = {
  readonly [K in keyof S["method"]]: TypedMethod<S["method"][K]>;
};

export interface TypedClientOptions {
  /** The service name to call (default: the descriptor's full name). */
  readonly serviceName?: string;
}

/**
 * Creates a typed client of `service` on `client`'s connection, e.g.
 * `createClient(conn, TaskService).create({ id, bundle })`.
 */
export function createClient<S extends DescService>(
  client: Client,
  service: S,
  options: TypedClientOptions = {},
): TypedClient<S> {
  const name = options.serviceName ?? service.typeName;
  const methods: Record<string, unknown> = {};
  for (const method of service.methods)
    methods[method.localName] = typedMethod(client, name, method);
  return methods as TypedClient<S>;
}

function typedMethod(client: Client, service: string, method: DescMethod): unknown {
  const { input, output, name } = method;
  switch (method.methodKind) {
    case "unary":
      return async (request: unknown, options?: CallOptions) =>
        decodeMessage(
          output,
          await client.call(service, name, encodeMessage(input, request), options),
        );
    case "server_streaming":
      return (request: unknown, options?: CallOptions) =>
        decodeAll(
          output,
          client.serverStream(service, name, encodeMessage(input, request), options),
        );
    case "client_streaming":
      return async (requests: Streamable<unknown>, options?: CallOptions) => {
        const call = client.clientStream(service, name, options) as ClientStreamCall;
        void pump(call, input, requests);
        return decodeMessage(output, await call.response);
      };
    case "bidi_streaming":
      return (requests: Streamable<unknown>, options?: CallOptions) => {
        const call = client.bidiStream(service, name, options) as ClientStreamCall;
        void pump(call, input, requests);
        return decodeAll(output, call);
      };
  }
}

/** Sends every request, then closes the send side; a failing source cancels the call. */
async function pump(
  call: ClientStreamCall,
  schema: DescMessage,
  requests: Streamable<unknown>,
): Promise<void> {
  try {
    for await (const request of requests) await call.send(encodeMessage(schema, request));
    await call.closeSend();
  } catch (err) {
    call.cancel(err);
  }
}

async function* decodeAll<D extends DescMessage>(
  schema: D,
  source: AsyncIterableIterator<Uint8Array> & { cancel(reason?: unknown): void },
): AsyncGenerator<MessageShape<D>> {
  try {
    for await (const bytes of source) yield decodeMessage(schema, bytes);
  } finally {
    // The consumer stopped early, or decoding failed: stop the call too.
    source.cancel();
  }
}
