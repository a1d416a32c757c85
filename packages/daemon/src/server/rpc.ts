/**
 * The request context for a gRPC call, built once per call in the service
 * adapters by core's `callContext`: the call's cancellation and deadline, the
 * namespace from the `containerd-namespace` header (validated where it is
 * required), and a logger made only when a handler logs.
 */
import { callContext, namespaceHeader, type Ctx } from "@sandboxd/core";
import type { ServerCall } from "@sandboxd/grpc";

/** The header that names the lease a call works under (content and snapshot writes). */
export const leaseHeader = "containerd-lease";

/** Builds a call's Ctx; one per daemon, derived from its root context. */
export type CtxOf = (call: ServerCall) => Ctx;

export function requestContexts(root: Ctx): CtxOf {
  return (call) =>
    callContext(root, {
      signal: call.signal,
      deadline: call.deadline,
      namespace: call.header(namespaceHeader),
      method: call.path,
    });
}
