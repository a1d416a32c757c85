/**
 * Payload encoding for typed services: protobuf-es messages to and from bytes, with the
 * status codes Go's ttrpc uses when that fails (INTERNAL).
 */
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "./code.js";
import { TtrpcError } from "./errors.js";

export function decodeMessage<D extends DescMessage>(
  schema: D,
  bytes: Uint8Array,
): MessageShape<D> {
  try {
    return fromBinary(schema, bytes);
  } catch (err) {
    throw new TtrpcError(Code.Internal, `ttrpc: error unmarshalling payload: ${errorText(err)}`, {
      cause: err,
    });
  }
}

/** Encodes a message or a message init object; `undefined` is the empty message. */
export function encodeMessage<D extends DescMessage>(schema: D, value: unknown): Uint8Array {
  try {
    return toBinary(schema, create(schema, (value ?? {}) as MessageInitShape<D>));
  } catch (err) {
    throw new TtrpcError(Code.Internal, `ttrpc: error marshaling payload: ${errorText(err)}`, {
      cause: err,
    });
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
