import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { AnySchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { pack } from "@sandboxd/api";
import { SandboxExitSchema } from "@sandboxd/api/events/sandbox_pb";
import { TaskExitSchema } from "@sandboxd/api/events/task_pb";
import { EnvelopeSchema } from "@sandboxd/api/types/event_pb";
import { MountSchema } from "@sandboxd/api/types/mount_pb";
import { decodeEnvelope } from "./events.js";

test("decodes a task exit by its type URL", async () => {
  const at = new Date("2026-01-02T03:04:05Z");
  const e = await decodeEnvelope(
    create(EnvelopeSchema, {
      timestamp: timestampFromDate(at),
      namespace: "default",
      topic: "/tasks/exit",
      event: pack(TaskExitSchema, { containerId: "c1", id: "c1", pid: 42, exitStatus: 3 }),
    }),
  );
  assert.deepEqual(e.timestamp, at);
  assert.equal(e.topic, "/tasks/exit");
  assert.equal(e.event?.$typeName, "containerd.events.TaskExit");
  if (e.event?.$typeName === "containerd.events.TaskExit") {
    assert.equal(e.event.exitStatus, 3);
    assert.equal(e.event.containerId, "c1");
  }
});

test("decodes a sandbox exit; accepts the type.googleapis.com/ prefix", async () => {
  const any = pack(SandboxExitSchema, { sandboxId: "pod", exitStatus: 1 });
  const e = await decodeEnvelope(
    create(EnvelopeSchema, {
      namespace: "ns",
      topic: "/sandboxes/exit",
      event: { ...any, typeUrl: `type.googleapis.com/${any.typeUrl}` },
    }),
  );
  assert.equal(e.event?.$typeName, "containerd.events.SandboxExit");
  assert.equal(e.timestamp, undefined);
});

test("an unknown, non-event or broken payload is kept raw", async () => {
  for (const event of [
    create(AnySchema, { typeUrl: "example.com/Unknown", value: new Uint8Array([1]) }),
    pack(MountSchema, { type: "bind" }),
    create(AnySchema, { typeUrl: "containerd.events.TaskExit", value: new Uint8Array([0xff]) }),
  ]) {
    const e = await decodeEnvelope(create(EnvelopeSchema, { topic: "/x", event }));
    assert.equal(e.event, undefined);
    assert.equal(e.payload?.typeUrl, event.typeUrl);
  }
});
