/**
 * containerd's pkg/namespaces for the wire: the header names that carry the
 * namespace (gRPC metadata and ttrpc metadata), and the one builder of a
 * call's Ctx that every server adapter uses: the call's cancellation and
 * deadline, its namespace, and a logger carrying method and namespace that is
 * made only when a handler logs, so the hot path allocates none.
 */
import type { Ctx } from "../context/context.js";
import { validate } from "../identifiers/identifiers.js";
import type { Logger } from "../log/log.js";

/** gRPC metadata key of the namespace (containerd's `containerd-namespace`). */
export const namespaceHeader = "containerd-namespace";
/** ttrpc metadata key of the namespace (containerd's `containerd-namespace-ttrpc`). */
export const ttrpcNamespaceHeader = "containerd-namespace-ttrpc";

/** What a server adapter knows about a call, whatever the transport. */
export interface CallInfo {
  readonly signal: AbortSignal;
  readonly deadline?: number | undefined;
  /** The namespace header's value; empty or absent means none. */
  readonly namespace?: string | undefined;
  /** `/service/method`, logged as `method`. */
  readonly method: string;
}

export interface CallContextOptions {
  /** Reject a malformed namespace here (InvalidArgument) instead of where it is required. */
  validateNamespace?: boolean | undefined;
  /** More fields for the call's logger. */
  fields?: Record<string, unknown> | undefined;
}

/**
 * A gRPC server call's CallInfo (@sandboxd/grpc's ServerCall, by shape: core
 * imports no transport): the namespace from `containerd-namespace`.
 */
export function grpcCallInfo(call: {
  readonly signal: AbortSignal;
  readonly deadline: number | undefined;
  header(key: string): string | undefined;
  readonly path: string;
}): CallInfo {
  return {
    signal: call.signal,
    deadline: call.deadline,
    namespace: call.header(namespaceHeader),
    method: call.path,
  };
}

/**
 * A ttrpc handler call's CallInfo (@sandboxd/ttrpc's HandlerContext, by
 * shape): the namespace from `containerd-namespace-ttrpc`.
 */
export function ttrpcCallInfo(call: {
  readonly signal: AbortSignal;
  readonly deadline: number | undefined;
  readonly metadata: { get(key: string): string | undefined };
  readonly service: string;
  readonly method: string;
}): CallInfo {
  return {
    signal: call.signal,
    deadline: call.deadline,
    namespace: call.metadata.get(ttrpcNamespaceHeader),
    method: `/${call.service}/${call.method}`,
  };
}

/** The Ctx of one call, derived from the server's root context. */
export function callContext(root: Ctx, call: CallInfo, options: CallContextOptions = {}): Ctx {
  const namespace = call.namespace || undefined;
  if (namespace !== undefined && options.validateNamespace) validate(namespace);
  let log: Logger | undefined;
  return {
    signal: call.signal,
    deadline: call.deadline,
    namespace,
    get log(): Logger {
      log ??= root.log.child({
        method: call.method,
        ...(namespace ? { namespace } : {}),
        ...options.fields,
      });
      return log;
    },
  };
}
