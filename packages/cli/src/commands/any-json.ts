// An Any as JSON for `inspect` output: JSON payloads (OCI spec) parsed,
// protobuf payloads as their type and base64 bytes.

/** The fields of a google.protobuf.Any. */
export interface AnyLike {
  typeUrl: string;
  value: Uint8Array;
}

export function anyJson(any: AnyLike | undefined): unknown {
  if (!any || any.typeUrl === "") return null;
  if (any.typeUrl.startsWith("types.containerd.io/")) {
    try {
      return JSON.parse(Buffer.from(any.value).toString("utf8")) as unknown;
    } catch {
      // Not JSON after all: shown as bytes below.
    }
  }
  return { typeUrl: any.typeUrl, value: Buffer.from(any.value).toString("base64") };
}
