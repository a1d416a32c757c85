/** Per-call options accepted by every method that talks to the daemon. */
export interface CallOptions {
  /** Cancels the call. */
  signal?: AbortSignal | undefined;
  /** Fails the call with DeadlineExceeded after this many milliseconds. */
  timeoutMs?: number | undefined;
}
