/**
 * Column encodings shared by the stores: labels as JSON, an Any as its binary
 * protobuf encoding, a map<string, Any> as JSON of base64 binary Anys.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { AnySchema, type Any } from "@bufbuild/protobuf/wkt";

export function labelsToText(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(labels);
}

export function labelsFromText(text: unknown): Record<string, string> {
  if (typeof text !== "string" || text === "" || text === "{}") return {};
  return JSON.parse(text) as Record<string, string>;
}

export function anyToBlob(any: Any | undefined): Uint8Array | null {
  return any === undefined ? null : toBinary(AnySchema, any);
}

export function anyFromBlob(blob: unknown): Any | undefined {
  if (!(blob instanceof Uint8Array)) return undefined;
  return fromBinary(AnySchema, blob);
}

export function anyMapToText(map: Readonly<Record<string, Any>>): string {
  const out: Record<string, string> = {};
  for (const [key, any] of Object.entries(map)) {
    out[key] = Buffer.from(toBinary(AnySchema, any)).toString("base64");
  }
  return JSON.stringify(out);
}

export function anyMapFromText(text: unknown): Record<string, Any> {
  if (typeof text !== "string" || text === "" || text === "{}") return {};
  const raw = JSON.parse(text) as Record<string, string>;
  const out: Record<string, Any> = {};
  for (const [key, b64] of Object.entries(raw)) {
    out[key] = fromBinary(AnySchema, Buffer.from(b64, "base64"));
  }
  return out;
}
