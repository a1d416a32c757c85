/**
 * The request context of a call to the daemon, built once per call in the
 * service adapters by core's `callContext`: the call's cancellation and
 * deadline, the namespace from its header (`containerd-namespace` for gRPC,
 * `containerd-namespace-ttrpc` for a shim's ttrpc call; validated where it is
 * required), and a logger made only when a handler logs.
 */
import { callContext, grpcCallInfo, ttrpcCallInfo, type Ctx } from "@sandboxd/core";
import type { ServerCall } from "@sandboxd/grpc";
import type { HandlerContext } from "@sandboxd/ttrpc";

/** The header that names the lease a call works under (content and snapshot writes). */
export const leaseHeader = "containerd-lease";

/** Builds a gRPC call's Ctx; one per daemon, derived from its root context. */
export type CtxOf = (call: ServerCall) => Ctx;
/** Builds a ttrpc call's Ctx (the shims' events). */
export type TtrpcCtxOf = (call: HandlerContext) => Ctx;

export function requestContexts(root: Ctx): CtxOf {
  return (call) => callContext(root, grpcCallInfo(call));
}

export function ttrpcContexts(root: Ctx): TtrpcCtxOf {
  return (call) => callContext(root, ttrpcCallInfo(call));
}
