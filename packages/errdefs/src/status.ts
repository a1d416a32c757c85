/**
 * The one translation between error kinds and gRPC status codes, used by every
 * edge (gRPC and ttrpc, servers and clients). Same table as containerd's
 * errdefs/pkg/errgrpc ToGRPC / ToNative.
 */
import type { ErrdefsError } from "./errors.js";
import { Kind, kindOf, withMessage } from "./errors.js";

/**
 * gRPC status codes (google.rpc.Code). `@sandboxd/ttrpc` keeps its own copy of
 * this table (ttrpc/src/code.ts) on purpose: ttrpc is a transport below
 * errdefs and must not import it. The numbers are the wire contract, so the
 * two cannot drift.
 */
export const Code = {
  OK: 0,
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;

export type Code = (typeof Code)[keyof typeof Code];

const kindToCode: Record<Kind, Code> = {
  [Kind.Unknown]: Code.Unknown,
  [Kind.InvalidArgument]: Code.InvalidArgument,
  [Kind.NotFound]: Code.NotFound,
  [Kind.AlreadyExists]: Code.AlreadyExists,
  [Kind.PermissionDenied]: Code.PermissionDenied,
  [Kind.ResourceExhausted]: Code.ResourceExhausted,
  [Kind.FailedPrecondition]: Code.FailedPrecondition,
  [Kind.Conflict]: Code.FailedPrecondition,
  [Kind.NotModified]: Code.FailedPrecondition,
  [Kind.Aborted]: Code.Aborted,
  [Kind.OutOfRange]: Code.OutOfRange,
  [Kind.NotImplemented]: Code.Unimplemented,
  [Kind.Internal]: Code.Internal,
  [Kind.Unavailable]: Code.Unavailable,
  [Kind.DataLoss]: Code.DataLoss,
  [Kind.Unauthenticated]: Code.Unauthenticated,
  [Kind.Canceled]: Code.Canceled,
  [Kind.DeadlineExceeded]: Code.DeadlineExceeded,
};

const codeToKind: Record<number, Kind> = {
  [Code.Canceled]: Kind.Canceled,
  [Code.Unknown]: Kind.Unknown,
  [Code.InvalidArgument]: Kind.InvalidArgument,
  [Code.DeadlineExceeded]: Kind.DeadlineExceeded,
  [Code.NotFound]: Kind.NotFound,
  [Code.AlreadyExists]: Kind.AlreadyExists,
  [Code.PermissionDenied]: Kind.PermissionDenied,
  [Code.ResourceExhausted]: Kind.ResourceExhausted,
  [Code.FailedPrecondition]: Kind.FailedPrecondition,
  [Code.Aborted]: Kind.Aborted,
  [Code.OutOfRange]: Kind.OutOfRange,
  [Code.Unimplemented]: Kind.NotImplemented,
  [Code.Internal]: Kind.Internal,
  [Code.Unavailable]: Kind.Unavailable,
  [Code.DataLoss]: Kind.DataLoss,
  [Code.Unauthenticated]: Kind.Unauthenticated,
};

export interface StatusLike {
  code: number;
  message: string;
}

/** The gRPC code and message for any thrown value (errgrpc.ToGRPC). */
export function toStatus(err: unknown): StatusLike {
  const message = err instanceof Error ? err.message : String(err);
  return { code: kindToCode[kindOf(err)], message };
}

/** The gRPC code for an error kind. */
export function codeOf(kind: Kind): Code {
  return kindToCode[kind];
}

/**
 * A typed error from a wire status (errgrpc.ToNative): FAILED_PRECONDITION whose
 * message ends with ": conflict" / ": not modified" comes back as Conflict / NotModified.
 */
export function fromStatus(status: StatusLike): ErrdefsError {
  let kind = codeToKind[status.code] ?? Kind.Unknown;
  if (kind === Kind.FailedPrecondition) {
    if (hasSuffix(status.message, Kind.Conflict)) kind = Kind.Conflict;
    else if (hasSuffix(status.message, Kind.NotModified)) kind = Kind.NotModified;
  }
  return withMessage(kind, status.message);
}

function hasSuffix(message: string, kind: Kind): boolean {
  return message === kind || message.endsWith(`: ${kind}`);
}
