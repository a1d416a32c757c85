/**
 * The request context for a ttrpc call from a shim: its cancellation and
 * deadline, the namespace from `containerd-namespace-ttrpc` when sent.
 */
import type { Ctx, Logger } from "@sandboxd/core";
import type { HandlerContext } from "@sandboxd/ttrpc";

export const ttrpcNamespaceKey = "containerd-namespace-ttrpc";

export type TtrpcCtxOf = (call: HandlerContext) => Ctx;

export function ttrpcContexts(root: Ctx): TtrpcCtxOf {
  return (call) => {
    const namespace = call.metadata.get(ttrpcNamespaceKey) || undefined;
    let log: Logger | undefined;
    return {
      signal: call.signal,
      deadline: call.deadline,
      namespace,
      get log(): Logger {
        log ??= root.log.child({ method: `/${call.service}/${call.method}`, namespace });
        return log;
      },
    };
  };
}
