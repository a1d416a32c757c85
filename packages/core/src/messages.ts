/**
 * The texts of errors that cross the wire and that callers recognise (sbx's
 * hints): each thrower builds its message from these, and `sbx` matches on
 * them, so rewording one cannot silently drop a hint (cli/src/errors.test.ts
 * ties the two). No imports: `@sandboxd/core/messages` is safe to load
 * anywhere, the CLI's start-up included.
 */

/** core's namespaceRequired: a call without a namespace. */
export const namespaceRequiredText = "namespace is required";

/** A sandbox shutdown refused while containers remain (`sandbox "x" still has containers ...`). */
export const stillHasContainersText = "still has containers";

/** A container delete refused while it has a task (`cannot delete container "x": ...`). */
export const cannotDeleteContainerText = "cannot delete container";

/** A transport that found no peer at an address (`cannot reach ADDRESS: ...`). */
export const cannotReachText = "cannot reach";

/** The objects sbx lists (`sbx KIND ls`), whose NotFound names them first. */
export const listedKinds = ["sandbox", "container", "task"] as const;
export type ListedKind = (typeof listedKinds)[number];

/**
 * The context of every NotFound for a sandbox, container or task (`sandbox
 * "ID"`, then `detail` when the thrower knows more, ` in namespace "ns"`):
 * the daemon's metadata and services and the sandboxer pass it to errdefs'
 * notFound, and sbx reads the kind back with `notFoundKindOf`.
 */
export function notFoundText(kind: ListedKind, id: string, detail = ""): string {
  return `${kind} ${JSON.stringify(id)}${detail}`;
}

/** The kind a NotFound's message names when it was built by `notFoundText`. */
export function notFoundKindOf(message: string): ListedKind | undefined {
  return listedKinds.find((kind) => message.startsWith(`${kind} "`));
}

/**
 * containerd's Sandbox API (Store and Controller; served by containerd 2.x and
 * sandboxd, not by containerd 1.6). The SDK puts it as `missingApi` on the
 * NotImplemented error of a Store call (Store implements every method wherever
 * it is served, so UNIMPLEMENTED there means the whole service is missing; a
 * Controller method may be unimplemented by one sandboxer only).
 */
export const sandboxApi = "containerd.services.sandbox.v1";

/** The API an SDK call found missing on its daemon (its error's `missingApi`), if any. */
export function missingApiOf(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const api = (err as { missingApi?: unknown }).missingApi;
  return typeof api === "string" ? api : undefined;
}
