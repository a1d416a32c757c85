// Conversions between wire types and the SDK's plain values: the only place
// Timestamps and enum numbers are turned into Dates and strings.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate } from "@bufbuild/protobuf/wkt";
// Type only: booting task.proto's descriptor for one enum cost every command
// (`sbx sandbox ls` too) start-up time; the numbers are the wire's.
import type { Status } from "@sandboxd/api/types/task/task_pb";
import { internal } from "@sandboxd/errdefs";

/** A Timestamp as a Date; undefined when absent or zero (Go's zero time is "not set"). */
export function toDate(ts: Timestamp | undefined): Date | undefined {
  if (ts === undefined || (ts.seconds === 0n && ts.nanos === 0)) return undefined;
  // Go's zero time.Time marshals as 0001-01-01T00:00:00Z.
  if (ts.seconds === -62135596800n) return undefined;
  return timestampDate(ts);
}

/** The state of a task or exec process (containerd's `ProcessStatus`). */
export const ProcessStatus = {
  Unknown: "unknown",
  Created: "created",
  Running: "running",
  Stopped: "stopped",
  Paused: "paused",
  Pausing: "pausing",
} as const;
export type ProcessStatus = (typeof ProcessStatus)[keyof typeof ProcessStatus];

/** containerd.v1.types.Status's wire numbers (types/task/task.proto). */
const statusByNumber: Readonly<Record<number, ProcessStatus>> = {
  1: ProcessStatus.Created,
  2: ProcessStatus.Running,
  3: ProcessStatus.Stopped,
  4: ProcessStatus.Paused,
  5: ProcessStatus.Pausing,
};

export function processStatusOf(status: Status): ProcessStatus {
  // UNKNOWN (0), and values from a newer daemon (open enum), are unknown.
  return statusByNumber[status] ?? ProcessStatus.Unknown;
}

/** How a process ended. */
export interface ExitStatus {
  /** The exit code; 128+N for a process killed by signal N; 255 when unknown. */
  exitStatus: number;
  /** When the process exited, if known. */
  exitedAt: Date | undefined;
}

/**
 * A field the daemon must send. Its absence is the daemon's fault, not the
 * caller's: Internal (undici's InvalidReturnValueError), naming what and which field.
 */
export function required<T>(value: T | undefined, what: string, field: string): T {
  if (value === undefined) throw internal(`${what}: daemon returned no ${field}`);
  return value;
}
