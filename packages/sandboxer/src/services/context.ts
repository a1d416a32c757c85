/**
 * Request contexts for the sandboxer's services, from core's `callContext`.
 * Unlike the daemon, the sandboxer rejects a malformed ttrpc namespace as soon
 * as the call arrives: every ttrpc method it serves is namespaced.
 */
import { callContext, ttrpcCallInfo, type Ctx } from "@sandboxd/core";
import type { HandlerContext } from "@sandboxd/ttrpc";

/** A Ctx for a ttrpc call: its signal and deadline, the namespace header if sent. */
export function ttrpcCtx(
  root: Ctx,
  call: HandlerContext,
  fields: Record<string, unknown> = {},
): Ctx {
  return callContext(root, ttrpcCallInfo(call), { validateNamespace: true, fields });
}
