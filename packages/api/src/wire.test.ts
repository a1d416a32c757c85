// Byte-for-byte encodings against fixtures derived by hand from containerd's
// field numbers (not produced by an encoder). Each line of a fixture is one
// field: tag = (field number << 3) | wire type, where wire type 0 = varint and
// 2 = length-delimited; then the length (varint) and the bytes. Fields are
// written in field-number order, as Go's and protobuf-es's encoders do.
import assert from "node:assert/strict";
import { test } from "node:test";

import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";

import {
  LogLevel,
  BootstrapParamsSchema,
  BootstrapResultSchema,
  Capability,
} from "./gen/runtime/bootstrap/v1/bootstrap_pb.js";
import { CreateTaskRequestSchema as ShimCreateTaskRequestSchema } from "./gen/runtime/task/v2/shim_pb.js";
import {
  ControllerStartRequestSchema,
  ControllerUpdateRequestSchema,
  StoreCreateRequestSchema,
} from "./gen/services/sandbox/v1/sandbox_pb.js";
import { CreateTaskRequestSchema } from "./gen/services/tasks/v1/tasks_pb.js";
import { EnvelopeSchema } from "./gen/types/event_pb.js";
import { OptionsSchema as RuncOptionsSchema } from "./gen/types/runc/options/oci_pb.js";
import { OptionsSchema as RuntimeOptionsSchema } from "./gen/types/runtimeoptions/v1/api_pb.js";
import { PlatformSchema } from "./gen/types/platform_pb.js";
import { TaskExitSchema } from "./gen/events/task_pb.js";
import { JsonTypeUrl, pack, packJson } from "./index.js";

/** Joins hex chunks ("0a 02 6331") into bytes. */
function hex(...chunks: string[]): Uint8Array {
  return Uint8Array.from(Buffer.from(chunks.join("").replace(/\s+/g, ""), "hex"));
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** Encodes `init`, compares with `fixture`, then decodes `fixture` and compares messages. */
function roundTrip<Desc extends DescMessage>(
  schema: Desc,
  init: MessageInitShape<Desc>,
  fixture: Uint8Array,
): void {
  const message = create(schema, init);
  assert.equal(toHex(toBinary(schema, message)), toHex(fixture));
  const decoded = fromBinary(schema, fixture);
  assert.ok(equals(schema, decoded, message), `${schema.typeName}: decoded message differs`);
  assert.equal(toHex(toBinary(schema, decoded)), toHex(fixture));
}

// "containerd.runc.v1.Options" is 26 (0x1a) bytes.
const RUNC_OPTIONS_URL = "636f6e7461696e6572642e72756e632e76312e4f7074696f6e73";

test("containerd.task.v2.CreateTaskRequest", () => {
  const fixture = hex(
    "0a 02 6331", // 1 id "c1"
    "12 02 2f62", // 2 bundle "/b"
    "1a 15", // 3 rootfs[0]: Mount, 21 bytes:
    "  0a 04 62696e64", //   1 type "bind" (6)
    "  12 02 2f73", //   2 source "/s" (4)
    "  22 05 7262696e64", //   4 options "rbind" (7)
    "  22 02 726f", //   4 options "ro" (4)
    "20 01", // 4 terminal true (varint)
    "2a 02 2f69", // 5 stdin "/i"
    "32 02 2f6f", // 6 stdout "/o"
    "3a 02 2f65", // 7 stderr "/e"
    "52 26", // 10 options: Any, 38 bytes:  tag (10<<3)|2 = 0x52
    "  0a 1a",
    RUNC_OPTIONS_URL, //   1 type_url, 26 bytes (28)
    "  12 08", //   2 value: runc Options, 8 bytes (10):
    "    32 04 6372756e", //     6 binary_name "crun"
    "    48 01", //     9 systemd_cgroup true: tag (9<<3)|0 = 0x48
  );
  roundTrip(
    ShimCreateTaskRequestSchema,
    {
      id: "c1",
      bundle: "/b",
      rootfs: [{ type: "bind", source: "/s", options: ["rbind", "ro"] }],
      terminal: true,
      stdin: "/i",
      stdout: "/o",
      stderr: "/e",
      options: pack(RuncOptionsSchema, { binaryName: "crun", systemdCgroup: true }),
    },
    fixture,
  );
});

test("containerd.services.tasks.v1.CreateTaskRequest has no field 2", () => {
  const fixture = hex(
    "0a 02 6331", // 1 container_id "c1"; nothing for 2
    "1a 0e", // 3 rootfs[0]: Mount, 14 bytes:
    "  0a 04 62696e64", //   1 type "bind"
    "  12 02 2f73", //   2 source "/s"
    "  22 02 726f", //   4 options "ro"
    "22 02 2f69", // 4 stdin "/i"
    "2a 02 2f6f", // 5 stdout "/o"
    "32 02 2f65", // 6 stderr "/e"
    "38 01", // 7 terminal true
    "4a 24", // 9 options: Any, 36 bytes:
    "  0a 1a",
    RUNC_OPTIONS_URL, //   1 type_url (28)
    "  12 06 32 04 6372756e", //   2 value: Options{6 binary_name "crun"} (8)
    "5a 0f 74747270632b756e69783a2f2f2f73", // 11 task_api_address "ttrpc+unix:///s": (11<<3)|2 = 0x5a
    "60 03", // 12 task_api_version 3: (12<<3)|0 = 0x60
  );
  roundTrip(
    CreateTaskRequestSchema,
    {
      containerId: "c1",
      rootfs: [{ type: "bind", source: "/s", options: ["ro"] }],
      stdin: "/i",
      stdout: "/o",
      stderr: "/e",
      terminal: true,
      options: pack(RuncOptionsSchema, { binaryName: "crun" }),
      taskApiAddress: "ttrpc+unix:///s",
      taskApiVersion: 3,
    },
    fixture,
  );
});

test("containerd.services.sandbox.v1.StoreCreateRequest", () => {
  const fixture = hex(
    "0a a3 01", // 1 sandbox: Sandbox, 163 bytes (varint 163 = 0xa3 0x01):
    "  0a 02 7331", //   1 sandbox_id "s1" (4)
    "  12 26", //   2 runtime: Runtime, 38 bytes (40):
    "    0a 01 72", //     1 name "r" (3)
    "    12 21", //     2 options: Any, 33 bytes (35):
    "      0a 19 72756e74696d656f7074696f6e732e76312e4f7074696f6e73", //       "runtimeoptions.v1.Options" (27)
    "      12 04 12 02 2f63", //       value: Options{2 config_path "/c"} (6)
    "  1a 3c", //   3 spec: Any, 60 bytes (62):
    "    0a 36", //     1 type_url, 54 bytes: types.containerd.io/opencontainers/runtime-spec/1/Spec
    "    74797065732e636f6e7461696e6572642e696f2f6f70656e636f6e7461696e6572732f",
    "    72756e74696d652d737065632f312f53706563",
    "    12 02 7b7d", //     2 value "{}" (JSON)
    "  22 06 0a 01 6b 12 01 76", //   4 labels {"k": "v"}: one entry {1 key, 2 value} (8)
    "  3a 29", //   7 extensions: one entry, 41 bytes (43): (7<<3)|2 = 0x3a
    "    0a 01 65", //     1 key "e" (3)
    "    12 24", //     2 value: Any, 36 bytes (38):
    "      0a 19 636f6e7461696e6572642e74797065732e506c6174666f726d", //       "containerd.types.Platform" (27)
    "      12 07 0a 05 6c696e7578", //       value: Platform{1 os "linux"} (9)
    "  52 04 7368696d", //   10 sandboxer "shim": (10<<3)|2 = 0x52 (6)
  );
  roundTrip(
    StoreCreateRequestSchema,
    {
      sandbox: {
        sandboxId: "s1",
        runtime: { name: "r", options: pack(RuntimeOptionsSchema, { configPath: "/c" }) },
        spec: packJson(JsonTypeUrl.Spec, {}),
        labels: { k: "v" },
        extensions: { e: pack(PlatformSchema, { os: "linux" }) },
        sandboxer: "shim",
      },
    },
    fixture,
  );
});

test("containerd.services.sandbox.v1.ControllerUpdateRequest: sandboxer is field 2", () => {
  const fixture = hex(
    "0a 02 7331", // 1 sandbox_id "s1"
    "12 04 7368696d", // 2 sandboxer "shim" (0x12, not 0x52)
    "1a 0c", // 3 sandbox: Sandbox, 12 bytes:
    "  0a 02 7331", //   1 sandbox_id "s1"
    "  22 06 0a 01 61 12 01 62", //   4 labels {"a": "b"}
    "22 08 6c6162656c732e61", // 4 fields ["labels.a"]
  );
  roundTrip(
    ControllerUpdateRequestSchema,
    {
      sandboxId: "s1",
      sandboxer: "shim",
      sandbox: { sandboxId: "s1", labels: { a: "b" } },
      fields: ["labels.a"],
    },
    fixture,
  );
  // Every other Controller request carries sandboxer in field 10.
  roundTrip(
    ControllerStartRequestSchema,
    { sandboxId: "s1", sandboxer: "shim" },
    hex("0a 02 7331", "52 04 7368696d"),
  );
});

test("containerd.types.Envelope carrying containerd.events.TaskExit", () => {
  // 1700000000 = 0x6553f100; 7-bit groups from the low end: 0, 98, 79, 42, 6
  // -> varint 80 e2 cf aa 06. 1700000001 -> 81 e2 cf aa 06.
  const fixture = hex(
    "0a 08", // 1 timestamp: Timestamp, 8 bytes:
    "  08 80e2cfaa06", //   1 seconds 1700000000
    "  10 05", //   2 nanos 5
    "12 07 64656661756c74", // 2 namespace "default"
    "1a 0b 2f7461736b732f65786974", // 3 topic "/tasks/exit" (11)
    "22 33", // 4 event: Any, 51 bytes:
    "  0a 1a 636f6e7461696e6572642e6576656e74732e5461736b45786974", //   1 "containerd.events.TaskExit" (28)
    "  12 15", //   2 value: TaskExit, 21 bytes:
    "    0a 02 6331", //     1 container_id "c1"
    "    12 02 6331", //     2 id "c1"
    "    18 2a", //     3 pid 42
    "    20 8901", //     4 exit_status 137 = 1*128 + 9 -> 89 01
    "    2a 06 08 81e2cfaa06", //     5 exited_at {1 seconds 1700000001}
  );
  roundTrip(
    EnvelopeSchema,
    {
      timestamp: { seconds: 1700000000n, nanos: 5 },
      namespace: "default",
      topic: "/tasks/exit",
      event: pack(TaskExitSchema, {
        containerId: "c1",
        id: "c1",
        pid: 42,
        exitStatus: 137,
        exitedAt: timestampFromMs(1700000001000),
      }),
    },
    fixture,
  );
});

test("containerd.runtime.bootstrap.v1.BootstrapResult", () => {
  const fixture = hex(
    "08 03", // 1 version 3 (int32 varint)
    "12 09 756e69783a2f2f2f73", // 2 address "unix:///s"
    "1a 05 7474727063", // 3 protocol "ttrpc"
    "22 01 00", // 4 capabilities [UNSPECIFIED]: proto3 packs repeated enums: one length-delimited run
    "2a 06 0a 01 6b 12 01 76", // 5 metadata {"k": "v"}
  );
  roundTrip(
    BootstrapResultSchema,
    {
      version: 3,
      address: "unix:///s",
      protocol: "ttrpc",
      capabilities: [Capability.UNSPECIFIED],
      metadata: { k: "v" },
    },
    fixture,
  );
});

test("containerd.runtime.bootstrap.v1.BootstrapParams: negative enum, optional presence", () => {
  const fixture = hex(
    "0a 02 6331", // 1 instance_id "c1"
    "12 07 64656661756c74", // 2 namespace "default"
    "18 f8ffffffffffffffff01", // 3 log_level TRACE = -8: sign-extended to 64 bits, 10-byte varint
    "4a 00", // 9 socket_dir "" (proto3 optional: set means sent, even when empty)
  );
  roundTrip(
    BootstrapParamsSchema,
    { instanceId: "c1", namespace: "default", logLevel: LogLevel.TRACE, socketDir: "" },
    fixture,
  );
  // Unset socket_dir is absent on the wire and reads back as undefined.
  const unset = fromBinary(BootstrapParamsSchema, hex("0a 02 6331"));
  assert.equal(unset.socketDir, undefined);
});
