/**
 * A client that calls a service implementation in the same process, like
 * grpc-go's in-process transport: the implementation a GrpcServer would
 * register, reached through the same typed Client as a Channel gives, with no
 * socket, HTTP/2 framing or protobuf encoding in between. sandboxd uses it to
 * host sbx-sandboxer's Controller in its own process (one Node process on a
 * single node instead of two).
 *
 * What stays as over the wire: the request is a full message (defaults
 * filled, as decoding gives), the handler gets a ServerCall (signal,
 * deadline, headers from the call's metadata, path), and the answer is a full
 * message. Errors reach the caller as the handler threw them: errdefs kinds,
 * which is what a Channel's status mapping gives back too.
 */
import { create } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, Message } from "@bufbuild/protobuf";
import { notImplemented } from "@sandboxd/errdefs";
import type { AnyService, CallOptions, Client, ServerCall, ServiceImpl } from "./types.js";

type AnyHandler = (request: Message, call: ServerCall) => unknown;

export function localClient<S extends AnyService>(service: S, impl: ServiceImpl<S>): Client<S> {
  const client: Record<string, unknown> = {};
  for (const method of service.methods as readonly DescMethod[]) {
    const handler = (impl as Record<string, AnyHandler | undefined>)[method.localName];
    const path = `/${service.typeName}/${method.name}`;
    client[method.localName] =
      method.methodKind === "unary"
        ? (request: object, options: CallOptions = {}) =>
            callUnary(method.input, method.output, path, handler, request, options)
        : () => {
            throw notImplemented(`${path}: only unary methods are served in process`);
          };
  }
  return client as Client<S>;
}

async function callUnary(
  input: DescMessage,
  output: DescMessage,
  path: string,
  handler: AnyHandler | undefined,
  request: object,
  options: CallOptions,
): Promise<Message> {
  if (!handler) throw notImplemented(`${path} is not implemented`);
  const deadline = earliest(
    options.deadline,
    options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs,
  );
  // The call's own signal: aborted by the caller's, by the deadline, and when the call ends.
  const done = new AbortController();
  const onAbort = (): void => done.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  const timer =
    deadline === undefined
      ? undefined
      : setTimeout(
          () => done.abort(new Error(`${path}: deadline exceeded`)),
          Math.max(0, deadline - Date.now()),
        );
  const metadata = options.metadata ?? {};
  const call: ServerCall = {
    signal: done.signal,
    deadline,
    header: (key) => metadata[key.toLowerCase()],
    path,
  };
  try {
    const reply = await handler(create(input, request as never), call);
    return create(output, reply as never);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    done.abort();
  }
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
