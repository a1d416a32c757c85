import type { Any } from "@bufbuild/protobuf/wkt";

/** True for a protobuf Any message (as opposed to a plain object to pack). */
export function isAnyMessage(value: unknown): value is Any {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { $typeName?: unknown }).$typeName === "google.protobuf.Any"
  );
}
