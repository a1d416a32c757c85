/**
 * containerd's closed set of error kinds (github.com/containerd/errdefs), as one
 * error class with a `kind`. Messages read like containerd's: the context first,
 * then the kind (`sandbox "x": not found`), so `sbx` and `ctr` print the same thing.
 */

export const Kind = {
  Unknown: "unknown",
  InvalidArgument: "invalid argument",
  NotFound: "not found",
  AlreadyExists: "already exists",
  PermissionDenied: "permission denied",
  ResourceExhausted: "resource exhausted",
  FailedPrecondition: "failed precondition",
  Conflict: "conflict",
  NotModified: "not modified",
  Aborted: "aborted",
  OutOfRange: "out of range",
  NotImplemented: "not implemented",
  Internal: "internal",
  Unavailable: "unavailable",
  DataLoss: "data loss",
  Unauthenticated: "unauthenticated",
  Canceled: "context canceled",
  DeadlineExceeded: "context deadline exceeded",
} as const;

export type Kind = (typeof Kind)[keyof typeof Kind];

const brand = Symbol.for("sandboxd.errdefs");

export class ErrdefsError extends Error {
  readonly kind: Kind;
  /**
   * The message without the kind at its end (connect-es's rawMessage): what to
   * put in another message, or in front of another kind, without editing text.
   */
  readonly rawMessage: string;
  readonly [brand] = true;

  constructor(
    kind: Kind,
    message: string,
    options?: { cause?: unknown; rawMessage?: string | undefined },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ErrdefsError";
    this.kind = kind;
    this.rawMessage = options?.rawMessage ?? stripKind(message, kind);
  }
}

/** `message` without a trailing `: kind` (or the bare kind): the one place that text is cut. */
function stripKind(message: string, kind: Kind): string {
  if (message === kind) return "";
  const suffix = `: ${kind}`;
  return message.endsWith(suffix) ? message.slice(0, -suffix.length) : message;
}

/**
 * The text of any error without its kind: an errdefs error's rawMessage,
 * another Error's message, anything else as a string. Use it to quote an
 * error inside a new message.
 */
export function messageOf(err: unknown): string {
  if (isErrdefsError(err)) return err.rawMessage;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** True for an ErrdefsError from any copy of this package. */
export function isErrdefsError(err: unknown): err is ErrdefsError {
  return (
    typeof err === "object" && err !== null && (err as Record<symbol, unknown>)[brand] === true
  );
}

function make(kind: Kind) {
  return (context?: string, options?: { cause?: unknown }): ErrdefsError =>
    new ErrdefsError(kind, context ? `${context}: ${kind}` : kind, {
      cause: options?.cause,
      rawMessage: context ?? "",
    });
}

export const invalidArgument = make(Kind.InvalidArgument);
export const notFound = make(Kind.NotFound);
export const alreadyExists = make(Kind.AlreadyExists);
export const permissionDenied = make(Kind.PermissionDenied);
export const resourceExhausted = make(Kind.ResourceExhausted);
export const failedPrecondition = make(Kind.FailedPrecondition);
export const conflict = make(Kind.Conflict);
export const notModified = make(Kind.NotModified);
export const aborted = make(Kind.Aborted);
export const outOfRange = make(Kind.OutOfRange);
export const notImplemented = make(Kind.NotImplemented);
export const internal = make(Kind.Internal);
export const unavailable = make(Kind.Unavailable);
export const dataLoss = make(Kind.DataLoss);
export const unauthenticated = make(Kind.Unauthenticated);
export const unknown = make(Kind.Unknown);
export const canceled = make(Kind.Canceled);
export const deadlineExceeded = make(Kind.DeadlineExceeded);

/** An error of `kind` whose message is exactly `message` (used when decoding a wire status). */
export function withMessage(
  kind: Kind,
  message: string,
  options?: { cause?: unknown },
): ErrdefsError {
  return new ErrdefsError(kind, message, options);
}

/**
 * Adds context to an error and keeps its kind, like Go's `fmt.Errorf("ctx: %w", err)`.
 * A non-errdefs error becomes Unknown with the original as `cause`.
 */
export function wrap(err: unknown, context: string): ErrdefsError {
  const kind = kindOf(err);
  const message = err instanceof Error ? err.message : String(err);
  return new ErrdefsError(kind, `${context}: ${message}`, {
    cause: err,
    rawMessage: `${context}: ${messageOf(err)}`,
  });
}

/**
 * Re-kinds an error with context, keeping it as the cause:
 * `wrapAs(Kind.Unavailable, err, "sandboxer x")` reads
 * `sandboxer x: <err without its kind>: unavailable`. For the places where a
 * lower error means something else to this caller (a NotFound from a peer is
 * the peer being unavailable); use `wrap` to keep the kind.
 */
export function wrapAs(kind: Kind, err: unknown, context?: string): ErrdefsError {
  const inner = messageOf(err);
  const raw = context ? (inner ? `${context}: ${inner}` : context) : inner;
  return new ErrdefsError(kind, raw ? `${raw}: ${kind}` : kind, { cause: err, rawMessage: raw });
}

/** The kind of an error, walking the `cause` chain; Unknown when none is found. */
export function kindOf(err: unknown): Kind {
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 16; depth++) {
    if (isErrdefsError(e)) return e.kind;
    if (isAbortError(e)) return Kind.Canceled;
    if (isNoSpace(e)) return Kind.ResourceExhausted;
    if (isTimeoutError(e)) return Kind.DeadlineExceeded;
    e = typeof e === "object" && e !== null ? (e as { cause?: unknown }).cause : undefined;
  }
  return Kind.Unknown;
}

function isAbortError(e: unknown): boolean {
  return e instanceof Error && e.name === "AbortError";
}

/** A full disk or quota (a system error's code): gRPC's RESOURCE_EXHAUSTED. */
function isNoSpace(e: unknown): boolean {
  const { code, errcode } = (e ?? {}) as { code?: unknown; errcode?: unknown };
  // node:sqlite's SQLITE_FULL ("database or disk is full") too.
  return code === "ENOSPC" || code === "EDQUOT" || (code === "ERR_SQLITE_ERROR" && errcode === 13);
}

function isTimeoutError(e: unknown): boolean {
  return e instanceof Error && e.name === "TimeoutError";
}

function is(kind: Kind) {
  return (err: unknown): boolean => kindOf(err) === kind;
}

export const isInvalidArgument = is(Kind.InvalidArgument);
export const isNotFound = is(Kind.NotFound);
export const isAlreadyExists = is(Kind.AlreadyExists);
export const isPermissionDenied = is(Kind.PermissionDenied);
export const isResourceExhausted = is(Kind.ResourceExhausted);
export const isFailedPrecondition = (err: unknown): boolean => {
  const k = kindOf(err);
  return k === Kind.FailedPrecondition || k === Kind.Conflict || k === Kind.NotModified;
};
export const isConflict = is(Kind.Conflict);
export const isNotModified = is(Kind.NotModified);
export const isAborted = is(Kind.Aborted);
export const isOutOfRange = is(Kind.OutOfRange);
export const isNotImplemented = is(Kind.NotImplemented);
export const isInternal = is(Kind.Internal);
export const isUnavailable = is(Kind.Unavailable);
export const isDataLoss = is(Kind.DataLoss);
export const isUnauthenticated = is(Kind.Unauthenticated);
export const isUnknown = is(Kind.Unknown);
export const isCanceled = is(Kind.Canceled);
export const isDeadlineExceeded = is(Kind.DeadlineExceeded);
