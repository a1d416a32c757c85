/**
 * The request context for a ttrpc call from a shim (core's `callContext`):
 * its cancellation and deadline, the namespace from
 * `containerd-namespace-ttrpc` when sent.
 */
import { callContext, ttrpcNamespaceHeader, type Ctx } from "@sandboxd/core";
import type { HandlerContext } from "@sandboxd/ttrpc";

export type TtrpcCtxOf = (call: HandlerContext) => Ctx;

export function ttrpcContexts(root: Ctx): TtrpcCtxOf {
  return (call) =>
    callContext(root, {
      signal: call.signal,
      deadline: call.deadline,
      namespace: call.metadata.get(ttrpcNamespaceHeader),
      method: `/${call.service}/${call.method}`,
    });
}
