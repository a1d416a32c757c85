import assert from "node:assert/strict";
import { test } from "node:test";
import type { DescMessage } from "@bufbuild/protobuf";
import { create, createFileRegistry, toBinary } from "@bufbuild/protobuf";
import {
  AnySchema,
  FileDescriptorProtoSchema,
  file_google_protobuf_any,
} from "@bufbuild/protobuf/wkt";
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from "./messages.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

test("Request encodes like Go's ttrpc (golden bytes)", () => {
  const bytes = encodeRequest({
    service: "s",
    method: "m",
    payload: Uint8Array.of(1, 2),
    timeoutNano: 1000n,
    metadata: [{ key: "k", value: "v" }],
  });
  assert.equal(hex(bytes), "0a0173" + "12016d" + "1a020102" + "20e807" + "2a060a016b120176");
});

test("Response encodes like Go's ttrpc: an empty status for OK, then the payload", () => {
  assert.equal(hex(encodeResponse({ payload: Uint8Array.of(5) })), "0a00" + "120105");
  assert.equal(
    hex(encodeResponse({ status: { code: 5, message: "x" }, payload: new Uint8Array(0) })),
    "0a0508051201" + "78",
  );
});

test("Request round trip, with payload presence kept", () => {
  const req = {
    service: "a.b.C",
    method: "Do",
    payload: new Uint8Array(0),
    timeoutNano: -5n,
    metadata: [],
  };
  const back = decodeRequest(encodeRequest(req));
  assert.equal(back.service, "a.b.C");
  assert.equal(back.method, "Do");
  assert.equal(back.timeoutNano, -5n);
  assert.equal(back.hasPayload, false);
  // field 3 present with zero length (what Go's server treats as a first stream message)
  assert.equal(decodeRequest(Uint8Array.of(0x1a, 0x00)).hasPayload, true);
});

test("Response status with details round trips", () => {
  const details = [
    create(AnySchema, { typeUrl: "type.googleapis.com/x.Y", value: Uint8Array.of(1, 2, 3) }),
  ];
  const res = decodeResponse(
    encodeResponse({ status: { code: 9, message: "no", details }, payload: new Uint8Array(0) }),
  );
  assert.equal(res.status?.code, 9);
  assert.equal(res.status?.message, "no");
  assert.equal(res.status?.details?.[0]?.typeUrl, "type.googleapis.com/x.Y");
  assert.deepEqual([...(res.status?.details?.[0]?.value ?? [])], [1, 2, 3]);
});

test("unknown fields and known fields with another wire type are skipped", () => {
  // field 9 varint, field 1 as varint (wrong type), then service
  const req = decodeRequest(Uint8Array.of(0x48, 0x01, 0x08, 0x07, 0x0a, 0x01, 0x73));
  assert.equal(req.service, "s");
});

test("malformed input throws", () => {
  assert.throws(() => decodeRequest(Uint8Array.of(0x0a, 0x05, 0x61))); // truncated string
  assert.throws(() => decodeRequest(Uint8Array.of(0x0f))); // wire type 7
  assert.throws(() => decodeRequest(Uint8Array.of(0x0a, 0x01, 0xff))); // invalid UTF-8 in a Request string
  assert.throws(() => decodeResponse(Uint8Array.of(0x12, 0x80))); // truncated length varint
});

// The same messages described with protobuf-es reflection, from request.proto.
const ttrpcFile = create(FileDescriptorProtoSchema, {
  name: "ttrpc/request.proto",
  package: "ttrpc",
  syntax: "proto3",
  dependency: ["google/protobuf/any.proto", "google/rpc/status.proto"],
  messageType: [
    {
      name: "Request",
      field: [
        { name: "service", number: 1, type: 9, label: 1, jsonName: "service" },
        { name: "method", number: 2, type: 9, label: 1, jsonName: "method" },
        { name: "payload", number: 3, type: 12, label: 1, jsonName: "payload" },
        { name: "timeout_nano", number: 4, type: 3, label: 1, jsonName: "timeoutNano" },
        {
          name: "metadata",
          number: 5,
          type: 11,
          label: 3,
          typeName: ".ttrpc.KeyValue",
          jsonName: "metadata",
        },
      ],
    },
    {
      name: "Response",
      field: [
        {
          name: "status",
          number: 1,
          type: 11,
          label: 1,
          typeName: ".google.rpc.Status",
          jsonName: "status",
        },
        { name: "payload", number: 2, type: 12, label: 1, jsonName: "payload" },
      ],
    },
    {
      name: "KeyValue",
      field: [
        { name: "key", number: 1, type: 9, label: 1, jsonName: "key" },
        { name: "value", number: 2, type: 9, label: 1, jsonName: "value" },
      ],
    },
  ],
});
const statusFile = create(FileDescriptorProtoSchema, {
  name: "google/rpc/status.proto",
  package: "google.rpc",
  syntax: "proto3",
  dependency: ["google/protobuf/any.proto"],
  messageType: [
    {
      name: "Status",
      field: [
        { name: "code", number: 1, type: 5, label: 1, jsonName: "code" },
        { name: "message", number: 2, type: 9, label: 1, jsonName: "message" },
        {
          name: "details",
          number: 3,
          type: 11,
          label: 3,
          typeName: ".google.protobuf.Any",
          jsonName: "details",
        },
      ],
    },
  ],
});
const registry = createFileRegistry(ttrpcFile, (name) => {
  if (name === "google/protobuf/any.proto") return file_google_protobuf_any;
  if (name === "google/rpc/status.proto") return statusFile;
  return undefined;
});
const RequestDesc = registry.getMessage("ttrpc.Request") as DescMessage;
const ResponseDesc = registry.getMessage("ttrpc.Response") as DescMessage;

test("the hand-written codec agrees with protobuf-es reflection", () => {
  for (let i = 0; i < 200; i++) {
    const fields = {
      service: `svc.${i}`,
      method: i % 3 === 0 ? "" : `M${i}`,
      payload: new Uint8Array(i % 7).fill(i),
      timeoutNano: BigInt(i * 1_000_003) * (i % 2 === 0 ? 1n : -1n),
      metadata: Array.from({ length: i % 4 }, (_, j) => ({
        key: `k${j}`,
        value: j % 2 ? "" : `v${i}`,
      })),
    };
    const reflected = toBinary(RequestDesc, create(RequestDesc, fields));
    assert.equal(hex(encodeRequest(fields)), hex(reflected));
    const back = decodeRequest(reflected);
    assert.deepEqual(
      { ...back, hasPayload: undefined, payload: [...back.payload] },
      { ...fields, hasPayload: undefined, payload: [...fields.payload] },
    );

    const status = { code: i % 17, message: i % 5 === 0 ? "" : `m${i}`, details: [] };
    const res = { status, payload: new Uint8Array(i % 5).fill(1) };
    const reflectedRes = toBinary(ResponseDesc, create(ResponseDesc, res));
    assert.equal(hex(encodeResponse(res)), hex(reflectedRes));
  }
});
