/** Request contexts for the sandboxer's services (namespace from the transport's header). */
import type { Ctx } from "@sandboxd/core";
import { withLogFields } from "@sandboxd/core";
import { validateIdentifier } from "@sandboxd/core";
import { Kind, isErrdefsError, kindOf, toStatus } from "@sandboxd/errdefs";
import type { HandlerContext, Status } from "@sandboxd/ttrpc";
import { defaultErrorToStatus } from "@sandboxd/ttrpc";

export const ttrpcNamespaceKey = "containerd-namespace-ttrpc";
export const grpcNamespaceKey = "containerd-namespace";

/** A Ctx for a ttrpc call: its signal and deadline, the namespace header if sent. */
export function ttrpcCtx(
  root: Ctx,
  call: HandlerContext,
  fields: Record<string, unknown> = {},
): Ctx {
  const namespace = call.metadata.get(ttrpcNamespaceKey) || undefined;
  if (namespace !== undefined) validateIdentifier(namespace);
  const ctx: Ctx = { signal: call.signal, deadline: call.deadline, namespace, log: root.log };
  return withLogFields(ctx, { ...(namespace ? { namespace } : {}), ...fields });
}

/** errdefs errors → wire status, for the ttrpc server (gRPC's server does the same). */
export function ttrpcErrorToStatus(err: unknown): Status {
  // A plain error keeps the ttrpc default unless its kind is known (a full disk's ENOSPC).
  if (!isErrdefsError(err) && kindOf(err) === Kind.Unknown) return defaultErrorToStatus(err);
  const s = toStatus(err);
  return { code: s.code, message: s.message };
}
