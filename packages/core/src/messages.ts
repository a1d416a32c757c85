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
