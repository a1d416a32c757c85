/**
 * Per-call logging and metrics, in one place: every gRPC call ends here.
 * Failures that are the daemon's fault (Unknown, Internal) are errors; the
 * rest, and successes, are debug.
 */
import type { Logger } from "@sandboxd/core";
import { Code, messageOf } from "@sandboxd/errdefs";
import { codeNameOf } from "./codes.js";
import type { Metrics } from "./metrics.js";

export interface CallDone {
  path: string;
  code: number;
  durationMs: number;
  error?: unknown;
}

export function callLog(log: Logger, metrics: Metrics): (done: CallDone) => void {
  return ({ path, code, durationMs, error }) => {
    metrics.rpc(path, code, durationMs);
    if (error === undefined) {
      if (log.isLevelEnabled("debug")) log.debug({ method: path, duration_ms: durationMs }, "rpc");
    } else if (code === Code.Unknown || code === Code.Internal) {
      log.error({ method: path, code: codeNameOf(code), error }, "rpc failed");
    } else if (log.isLevelEnabled("debug")) {
      log.debug(
        { method: path, code: codeNameOf(code), duration_ms: durationMs, error: messageOf(error) },
        "rpc failed",
      );
    }
  };
}
