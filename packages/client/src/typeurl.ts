// containerd's Any conventions, as in @sandboxd/api's index (a test checks they
// agree). Kept here so that loading the SDK does not load the whole API
// registry: start-up time is part of sbx's product.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { AnySchema, anyUnpack } from "@bufbuild/protobuf/wkt";

const OCI_SPEC_URL = "types.containerd.io/opencontainers/runtime-spec/1";

/** Type URLs of the OCI runtime-spec types containerd sends as JSON in an Any. */
export const JsonTypeUrl = {
  Spec: `${OCI_SPEC_URL}/Spec`,
  Process: `${OCI_SPEC_URL}/Process`,
  LinuxResources: `${OCI_SPEC_URL}/LinuxResources`,
} as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A JSON value in an Any (value = UTF-8 JSON, as Go's json.Marshal). */
export function packJson(typeUrl: string, value: unknown): Any {
  return create(AnySchema, { typeUrl, value: encoder.encode(JSON.stringify(value)) });
}

/** The JSON in an Any; undefined if it holds another type than `typeUrl`. */
export function unpackJson(any: Any, typeUrl?: string): unknown {
  if (typeUrl !== undefined && any.typeUrl !== typeUrl) return undefined;
  return JSON.parse(decoder.decode(any.value)) as unknown;
}

/** An Any as `schema`, accepting bare and `type.googleapis.com/` type URLs; undefined for another type. */
export function unpackAs<Desc extends DescMessage>(
  any: Any,
  schema: Desc,
): MessageShape<Desc> | undefined {
  const name = any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1);
  if (name !== schema.typeName) return undefined;
  return anyUnpack(any, schema);
}
