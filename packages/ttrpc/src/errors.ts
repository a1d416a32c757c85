import type { Any } from "@bufbuild/protobuf/wkt";
import { Code, isCode } from "./code.js";

/**
 * A call's outcome as carried on the wire in `google.rpc.Status`. `details` holds
 * `google.protobuf.Any` messages and is optional (containerd does not set it).
 */
export interface Status {
  readonly code: number;
  readonly message: string;
  readonly details?: readonly Any[] | undefined;
}

const brand = Symbol.for("@sandboxd/ttrpc/TtrpcError");
const closed = Symbol.for("@sandboxd/ttrpc/closed");

/**
 * The one error class of this library: a non-OK status from the peer, or a local
 * failure (deadline, cancellation, closed connection) expressed with the same codes.
 * `message` is the status message exactly as the peer sent it, so callers can map
 * it to their own error kinds (containerd's errgrpc does this by message suffix).
 */
export class TtrpcError extends Error {
  readonly code: Code;
  readonly details: readonly Any[];
  readonly [brand] = true;

  constructor(
    code: Code,
    message: string,
    options?: { details?: readonly Any[]; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TtrpcError";
    this.code = code;
    this.details = options?.details ?? [];
  }

  /** The error a non-OK wire status becomes; codes outside gRPC's set become UNKNOWN. */
  static fromStatus(status: Status): TtrpcError {
    const code = isCode(status.code) ? status.code : Code.Unknown;
    return new TtrpcError(code, status.message, { details: status.details ?? [] });
  }
}

/**
 * Whether `err` is a {@link TtrpcError}. Works across duplicate copies of this package,
 * which `instanceof` does not.
 */
export function isTtrpcError(err: unknown): err is TtrpcError {
  return (
    typeof err === "object" && err !== null && (err as Record<symbol, unknown>)[brand] === true
  );
}

/**
 * The error every pending and later call fails with once the connection is gone
 * (Go's `ttrpc.ErrClosed`). Its code is UNAVAILABLE; `cause` holds the socket error, if any.
 */
export function closedError(cause?: unknown): TtrpcError {
  const err = new TtrpcError(Code.Unavailable, "ttrpc: closed", { cause });
  Object.defineProperty(err, closed, { value: true });
  return err;
}

/** Whether `err` reports a closed connection (Go's `errors.Is(err, ttrpc.ErrClosed)`). */
export function isClosedError(err: unknown): boolean {
  return isTtrpcError(err) && (err as unknown as Record<symbol, unknown>)[closed] === true;
}

/** The error a call fails with when its deadline passes (Go's `context.DeadlineExceeded`). */
export function deadlineExceededError(): TtrpcError {
  return new TtrpcError(Code.DeadlineExceeded, "context deadline exceeded");
}

/** The error a call fails with when it is cancelled (Go's `context.Canceled`). */
export function canceledError(cause?: unknown): TtrpcError {
  return new TtrpcError(Code.Canceled, "context canceled", { cause });
}

// Node system errors a handler may let escape, mapped as Go's convertCode maps
// os.IsNotExist / IsExist / IsPermission.
const errnoCodes: Record<string, Code> = {
  ENOENT: Code.NotFound,
  EEXIST: Code.AlreadyExists,
  EACCES: Code.PermissionDenied,
  EPERM: Code.PermissionDenied,
};

/**
 * The default mapping from a handler's thrown value to a wire status. Servers take an
 * `errorToStatus` option to replace it (sandboxd plugs its errdefs mapping in).
 *
 * - a {@link TtrpcError} keeps its code, message and details;
 * - an error with a numeric gRPC `code` property keeps it;
 * - `AbortError` becomes CANCELLED (or the status of its cause, when the cause is the
 *   handler signal's reason), `TimeoutError` DEADLINE_EXCEEDED;
 * - Node's ENOENT, EEXIST, EACCES/EPERM become NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED;
 * - anything else is UNKNOWN with the error's message.
 */
export function defaultErrorToStatus(err: unknown): Status {
  if (isTtrpcError(err)) return { code: err.code, message: err.message, details: err.details };
  if (!(err instanceof Error)) return { code: Code.Unknown, message: String(err) };
  const code: unknown = (err as { code?: unknown }).code;
  if (isCode(code) && code !== Code.OK) return { code, message: err.message };
  if (err.name === "AbortError") {
    if (isTtrpcError(err.cause)) return defaultErrorToStatus(err.cause);
    return { code: Code.Canceled, message: err.message };
  }
  if (err.name === "TimeoutError") return { code: Code.DeadlineExceeded, message: err.message };
  if (typeof code === "string") {
    const mapped = errnoCodes[code];
    if (mapped !== undefined) return { code: mapped, message: err.message };
  }
  return { code: Code.Unknown, message: err.message };
}
