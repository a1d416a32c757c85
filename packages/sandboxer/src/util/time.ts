import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";

/** A protobuf Timestamp from epoch ms (fractions from mtimes are dropped: nanos must be whole). */
export function ts(ms: number): Timestamp {
  return timestampFromMs(Math.floor(ms));
}

/** How long a helper program (runc, mount, mkfifo, unshare) may run before it is killed. */
export const helperTimeoutMs = 30_000;
