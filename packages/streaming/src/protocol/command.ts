/** Runs one exec or attach through the runtime and turns its outcome into a Status. */
import type { AttachRequest, ExecRequest, Runtime, StreamIO } from "../runtime.js";
import {
  exitCodeStatus,
  internalErrorStatus,
  successStatus,
  type Status,
} from "./remotecommand.js";

export type CommandTarget =
  { kind: "exec"; request: ExecRequest } | { kind: "attach"; request: AttachRequest };

/** Resolves with the status to report, or null when the client left (nothing to report to). */
export async function runCommand(
  runtime: Runtime,
  target: CommandTarget,
  io: StreamIO,
  signal: AbortSignal,
): Promise<Status | null> {
  try {
    if (target.kind === "attach") {
      await runtime.attach(target.request.containerId, io, signal);
      return signal.aborted ? null : successStatus();
    }
    const code = await runtime.exec(target.request.containerId, target.request.cmd, io, signal);
    if (signal.aborted) return null;
    return code === 0 ? successStatus() : exitCodeStatus(code);
  } catch (err) {
    return signal.aborted ? null : internalErrorStatus(err);
  }
}
