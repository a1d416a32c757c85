import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  CleanupTaskRequestSchema,
  CleanupTaskResponseSchema,
  RegisterRequestSchema,
  RegisterResponseSchema,
} from "@sandboxd/api/sandboxd/sandboxer/v1/sandboxer_pb";
import { DeleteResponseSchema } from "@sandboxd/api/runtime/task/v2/shim_pb";
import { RuntimeInfoSchema } from "@sandboxd/api/types/introspection_pb";
import { decode, encode, num, str, timestamp, timestampMs } from "./wire.js";

test("the shim's hand-encoded messages are what the generated code reads", () => {
  const register = fromBinary(
    RegisterRequestSchema,
    encode([
      [1, "string", "default"],
      [2, "string", "/run/containerd/containerd.sock.ttrpc"],
      [3, "string", "/run/containerd/containerd.sock"],
      [4, "string", ""],
    ]),
  );
  assert.equal(register.namespace, "default");
  assert.equal(register.ttrpcAddress, "/run/containerd/containerd.sock.ttrpc");
  assert.equal(register.grpcAddress, "/run/containerd/containerd.sock");
  const cleanup = fromBinary(
    CleanupTaskRequestSchema,
    encode([
      [1, "string", "k8s.io"],
      [2, "string", "c1"],
      [3, "string", "/b"],
    ]),
  );
  assert.deepEqual([cleanup.namespace, cleanup.id, cleanup.bundle], ["k8s.io", "c1", "/b"]);
  const deleted = fromBinary(
    DeleteResponseSchema,
    encode([
      [1, "varint", 4242],
      [2, "varint", 137],
      [3, "message", timestamp(1_700_000_000_123.9)],
    ]),
  );
  assert.equal(deleted.pid, 4242);
  assert.equal(deleted.exitStatus, 137);
  assert.equal(deleted.exitedAt?.seconds, 1_700_000_000n);
  assert.equal(deleted.exitedAt?.nanos, 123_000_000);
  const info = fromBinary(
    RuntimeInfoSchema,
    encode([
      [1, "string", "io.containerd.sbx.v1"],
      [2, "message", [[1, "string", "0.1.0"]]],
    ]),
  );
  assert.equal(info.name, "io.containerd.sbx.v1");
  assert.equal(info.version?.version, "0.1.0");
});

test("and it reads what the generated code writes", () => {
  const r = decode(
    toBinary(
      RegisterResponseSchema,
      create(RegisterResponseSchema, { taskAddress: "unix:///t.sock", version: 3, pid: 9 }),
    ),
  );
  assert.equal(str(r.get(1)), "unix:///t.sock");
  assert.equal(num(r.get(2)), 3);
  assert.equal(num(r.get(3)), 9);
  const c = decode(
    toBinary(
      CleanupTaskResponseSchema,
      create(CleanupTaskResponseSchema, {
        pid: 7,
        exitStatus: 3,
        exitedAt: timestampFromMs(1_700_000_000_500),
      }),
    ),
  );
  assert.equal(num(c.get(2)), 3);
  assert.equal(timestampMs(c.get(3)), 1_700_000_000_500);
  // Zero values are omitted, as proto3 does.
  assert.deepEqual(
    decode(
      encode([
        [1, "varint", 0],
        [2, "string", ""],
      ]),
    ),
    new Map(),
  );
});
