/**
 * The request context for a gRPC call, built once per call in the service
 * adapters: the call's cancellation and deadline, the namespace from the
 * `containerd-namespace` header (validated where it is required), and a
 * logger carrying the method and namespace. The logger is made only when a
 * handler logs, so the hot path allocates none.
 */
import type { Ctx, Logger } from "@sandboxd/core";
import type { ServerCall } from "@sandboxd/grpc";

export const namespaceHeader = "containerd-namespace";
export const leaseHeader = "containerd-lease";

/** Builds a call's Ctx; one per daemon, derived from its root context. */
export type CtxOf = (call: ServerCall) => Ctx;

export function requestContexts(root: Ctx): CtxOf {
  return (call) => {
    const namespace = call.header(namespaceHeader) || undefined;
    let log: Logger | undefined;
    return {
      signal: call.signal,
      deadline: call.deadline,
      namespace,
      get log(): Logger {
        log ??= root.log.child(
          namespace ? { method: call.path, namespace } : { method: call.path },
        );
        return log;
      },
    };
  };
}
