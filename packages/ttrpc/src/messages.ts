/**
 * Codecs for ttrpc's own protobuf messages (containerd/ttrpc `request.proto`, package
 * `ttrpc`), written by hand on protobuf-es's wire primitives: three small messages do not
 * justify a code generator, and decoding them is on every call's path.
 *
 *   Request  { string service = 1; string method = 2; bytes payload = 3;
 *              int64 timeout_nano = 4; repeated KeyValue metadata = 5; }
 *   Response { google.rpc.Status status = 1; bytes payload = 2; }
 *   KeyValue { string key = 1; string value = 2; }
 *   google.rpc.Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
 *
 * Decoders follow proto3 rules as Go applies them: unknown fields (and known fields with an
 * unexpected wire type) are skipped, the last value of a scalar wins, strings in a Request
 * must be valid UTF-8. Malformed input throws.
 */
import { create } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { Any } from "@bufbuild/protobuf/wkt";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import type { Status } from "./errors.js";

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

export interface Request {
  readonly service: string;
  readonly method: string;
  readonly payload: Uint8Array;
  /**
   * Whether field 3 was on the wire. Go delivers a streaming request's payload as the first
   * message only when it is present (containerd/ttrpc#126), so the server needs to know.
   */
  readonly hasPayload: boolean;
  /** Time the caller has left, in nanoseconds; 0 means no deadline. */
  readonly timeoutNano: bigint;
  readonly metadata: readonly KeyValue[];
}

export interface Response {
  /** Absent or code 0 means OK. */
  readonly status?: Status | undefined;
  readonly payload: Uint8Array;
}

export function encodeRequest(req: Omit<Request, "hasPayload">): Uint8Array {
  const w = new BinaryWriter();
  if (req.service !== "") w.tag(1, WireType.LengthDelimited).string(req.service);
  if (req.method !== "") w.tag(2, WireType.LengthDelimited).string(req.method);
  if (req.payload.length > 0) w.tag(3, WireType.LengthDelimited).bytes(req.payload);
  if (req.timeoutNano !== 0n) w.tag(4, WireType.Varint).int64(req.timeoutNano);
  for (const kv of req.metadata) {
    w.tag(5, WireType.LengthDelimited).fork();
    if (kv.key !== "") w.tag(1, WireType.LengthDelimited).string(kv.key);
    if (kv.value !== "") w.tag(2, WireType.LengthDelimited).string(kv.value);
    w.join();
  }
  return w.finish();
}

export function decodeRequest(bytes: Uint8Array): Request {
  const r = new BinaryReader(bytes);
  let service = "";
  let method = "";
  let payload: Uint8Array = new Uint8Array(0);
  let hasPayload = false;
  let timeoutNano = 0n;
  const metadata: KeyValue[] = [];
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field === 1 && type === WireType.LengthDelimited) service = r.string(true);
    else if (field === 2 && type === WireType.LengthDelimited) method = r.string(true);
    else if (field === 3 && type === WireType.LengthDelimited) {
      payload = r.bytes();
      hasPayload = true;
    } else if (field === 4 && type === WireType.Varint) timeoutNano = BigInt(r.int64());
    else if (field === 5 && type === WireType.LengthDelimited)
      metadata.push(decodeKeyValue(r.bytes()));
    else r.skip(type, field);
  }
  return { service, method, payload, hasPayload, timeoutNano, metadata };
}

function decodeKeyValue(bytes: Uint8Array): KeyValue {
  const r = new BinaryReader(bytes);
  let key = "";
  let value = "";
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field === 1 && type === WireType.LengthDelimited) key = r.string(true);
    else if (field === 2 && type === WireType.LengthDelimited) value = r.string(true);
    else r.skip(type, field);
  }
  return { key, value };
}

export function encodeResponse(res: Response): Uint8Array {
  const w = new BinaryWriter();
  // Go always sends a status, an empty one for OK; peers treat absent and empty alike.
  const status = res.status ?? { code: 0, message: "" };
  w.tag(1, WireType.LengthDelimited).fork();
  if (status.code !== 0) w.tag(1, WireType.Varint).int32(status.code);
  if (status.message !== "") w.tag(2, WireType.LengthDelimited).string(status.message);
  for (const any of status.details ?? []) {
    w.tag(3, WireType.LengthDelimited).fork();
    if (any.typeUrl !== "") w.tag(1, WireType.LengthDelimited).string(any.typeUrl);
    if (any.value.length > 0) w.tag(2, WireType.LengthDelimited).bytes(any.value);
    w.join();
  }
  w.join();
  if (res.payload.length > 0) w.tag(2, WireType.LengthDelimited).bytes(res.payload);
  return w.finish();
}

export function decodeResponse(bytes: Uint8Array): Response {
  const r = new BinaryReader(bytes);
  let status: Status | undefined;
  let payload: Uint8Array = new Uint8Array(0);
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field === 1 && type === WireType.LengthDelimited) status = decodeStatus(r.bytes(), status);
    else if (field === 2 && type === WireType.LengthDelimited) payload = r.bytes();
    else r.skip(type, field);
  }
  return { status, payload };
}

// A repeated occurrence of a message field merges into the previous one (proto3 rules).
function decodeStatus(bytes: Uint8Array, previous: Status | undefined): Status {
  const r = new BinaryReader(bytes);
  let code = previous?.code ?? 0;
  let message = previous?.message ?? "";
  const details: Any[] = [...(previous?.details ?? [])];
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field === 1 && type === WireType.Varint) code = r.int32();
    // Lenient on purpose: an error message with bad UTF-8 is still worth showing.
    else if (field === 2 && type === WireType.LengthDelimited) message = r.string();
    else if (field === 3 && type === WireType.LengthDelimited) details.push(decodeAny(r.bytes()));
    else r.skip(type, field);
  }
  return { code, message, details };
}

function decodeAny(bytes: Uint8Array): Any {
  const r = new BinaryReader(bytes);
  let typeUrl = "";
  let value: Uint8Array = new Uint8Array(0);
  while (r.pos < r.len) {
    const [field, type] = r.tag();
    if (field === 1 && type === WireType.LengthDelimited) typeUrl = r.string();
    else if (field === 2 && type === WireType.LengthDelimited) value = r.bytes();
    else r.skip(type, field);
  }
  return create(AnySchema, { typeUrl, value });
}
