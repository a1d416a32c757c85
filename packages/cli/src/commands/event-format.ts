// Event messages as plain data: protobuf-es internals dropped, Timestamps as
// ISO strings, bigints as numbers.
import type { EventMessage } from "@sandboxd/client";

interface TimestampLike {
  $typeName: "google.protobuf.Timestamp";
  seconds: bigint;
  nanos: number;
}

function plain(value: unknown): unknown {
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (record.$typeName === "google.protobuf.Timestamp") {
      const ts = value as TimestampLike;
      return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6)).toISOString();
    }
    return Object.fromEntries(
      Object.entries(record)
        .filter(([k]) => k !== "$typeName" && k !== "$unknown")
        .map(([k, v]) => [k, plain(v)]),
    );
  }
  return value;
}

/** The event's fields as JSON-ready data. */
export function eventFields(event: EventMessage): Record<string, unknown> {
  return plain(event) as Record<string, unknown>;
}

/** `containerId=c1 exitStatus=3 ...` for a table line (empty strings and objects left out). */
export function eventText(event: EventMessage): string {
  return Object.entries(eventFields(event))
    .filter(([, v]) => v !== "" && v !== null && v !== undefined)
    .filter(([, v]) => !(typeof v === "object" && v !== null && Object.keys(v).length === 0))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
}
