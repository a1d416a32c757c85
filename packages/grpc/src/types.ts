/**
 * Types that turn a protobuf-es service descriptor (GenService) into a typed
 * client and a typed server implementation.
 */
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyService = GenService<any>;

type MethodsOf<S> = S extends GenService<infer M extends GenServiceMethods> ? M : never;

/** Per-call options of a client call. */
export interface CallOptions {
  signal?: AbortSignal | undefined;
  /** Relative timeout; sent to the server as grpc-timeout. */
  timeoutMs?: number | undefined;
  /** Absolute deadline (epoch ms); the earlier of this and timeoutMs wins. */
  deadline?: number | undefined;
  /** Extra request headers (lowercase keys). */
  metadata?: Record<string, string> | undefined;
}

type ClientMethod<M> = M extends {
  methodKind: "unary";
  input: infer I extends DescMessage;
  output: infer O extends DescMessage;
}
  ? (request: MessageInitShape<I>, options?: CallOptions) => Promise<MessageShape<O>>
  : M extends {
        methodKind: "server_streaming";
        input: infer I extends DescMessage;
        output: infer O extends DescMessage;
      }
    ? (request: MessageInitShape<I>, options?: CallOptions) => AsyncIterable<MessageShape<O>>
    : M extends {
          methodKind: "bidi_streaming";
          input: infer I extends DescMessage;
          output: infer O extends DescMessage;
        }
      ? (
          requests: AsyncIterable<MessageInitShape<I>>,
          options?: CallOptions,
        ) => AsyncIterable<MessageShape<O>>
      : never;

/** A typed client: one method per RPC, named by the RPC's local (camelCase) name. */
export type Client<S extends AnyService> = {
  [K in keyof MethodsOf<S>]: ClientMethod<MethodsOf<S>[K]>;
};

/** What a server handler learns about its call. */
export interface ServerCall {
  /** Aborts when the client cancels, the deadline passes, or the call ends. */
  readonly signal: AbortSignal;
  /** Epoch ms, when the client sent a deadline. */
  readonly deadline: number | undefined;
  /** The first value of a request header. */
  header(key: string): string | undefined;
  /** `/package.Service/Method` */
  readonly path: string;
}

type ServerMethod<M> = M extends {
  methodKind: "unary";
  input: infer I extends DescMessage;
  output: infer O extends DescMessage;
}
  ? (
      request: MessageShape<I>,
      call: ServerCall,
    ) => Promise<MessageInitShape<O>> | MessageInitShape<O>
  : M extends {
        methodKind: "server_streaming";
        input: infer I extends DescMessage;
        output: infer O extends DescMessage;
      }
    ? (request: MessageShape<I>, call: ServerCall) => AsyncIterable<MessageInitShape<O>>
    : M extends {
          methodKind: "bidi_streaming";
          input: infer I extends DescMessage;
          output: infer O extends DescMessage;
        }
      ? (
          requests: AsyncIterable<MessageShape<I>>,
          call: ServerCall,
        ) => AsyncIterable<MessageInitShape<O>>
      : never;

/** A typed implementation of a service. Methods left out answer UNIMPLEMENTED. */
export type ServiceImpl<S extends AnyService> = {
  [K in keyof MethodsOf<S>]?: ServerMethod<MethodsOf<S>[K]>;
};
