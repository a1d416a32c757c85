/**
 * gRPC status codes (google.rpc.Code). ttrpc carries them in `google.rpc.Status`
 * exactly as gRPC does, so the numbers are the wire contract.
 *
 * `@sandboxd/errdefs` has the same table (errdefs/src/status.ts). The copy is
 * deliberate: ttrpc is a transport that errdefs' users build on, and it must
 * not import errdefs (nor anything else of sandboxd's); the fixed numbers
 * keep the two from drifting.
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

const names: readonly string[] = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/** Whether `n` is one of the 17 codes gRPC defines. */
export function isCode(n: unknown): n is Code {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 16;
}

/** The canonical upper-case name (`NOT_FOUND`), or `CODE(n)` for a code outside the set. */
export function codeName(code: number): string {
  return names[code] ?? `CODE(${code})`;
}
