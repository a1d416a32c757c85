import assert from "node:assert/strict";
import { test } from "node:test";

import { create, isMessage, toBinary } from "@bufbuild/protobuf";
import { AnySchema, anyPack } from "@bufbuild/protobuf/wkt";

import { MetricsSchema as CgroupV1MetricsSchema } from "./gen/cgroups/cgroup1/stats/metrics_pb.js";
import { MetricsSchema as CgroupV2MetricsSchema } from "./gen/cgroups/cgroup2/stats/metrics_pb.js";
import { ImageCreateSchema } from "./gen/events/image_pb.js";
import { TaskExitSchema } from "./gen/events/task_pb.js";
import { Task as TaskV2 } from "./gen/runtime/task/v2/shim_pb.js";
import { Task as TaskV3 } from "./gen/runtime/task/v3/shim_pb.js";
import { Sandbox } from "./gen/runtime/sandbox/v1/sandbox_pb.js";
import { Controller, Store } from "./gen/services/sandbox/v1/sandbox_pb.js";
import { Events as TtrpcEvents } from "./gen/services/ttrpc/events/v1/events_pb.js";
import { Events } from "./gen/services/events/v1/events_pb.js";
import { Containers } from "./gen/services/containers/v1/containers_pb.js";
import { Tasks } from "./gen/services/tasks/v1/tasks_pb.js";
import { Namespaces } from "./gen/services/namespaces/v1/namespace_pb.js";
import { Leases } from "./gen/services/leases/v1/leases_pb.js";
import { Version } from "./gen/services/version/v1/version_pb.js";
import { Introspection } from "./gen/services/introspection/v1/introspection_pb.js";
import { OptionsSchema as RuncOptionsSchema } from "./gen/types/runc/options/oci_pb.js";
import {
  apiFiles,
  eventSchemas,
  GOOGLE_TYPE_URL_PREFIX,
  isType,
  JsonTypeUrl,
  pack,
  packJson,
  registry,
  ServiceName,
  Topic,
  typeNameOf,
  typeUrlOf,
  unpack,
  unpackAs,
  unpackJson,
} from "./index.js";

test("pack uses the bare full name as type URL", () => {
  const any = pack(TaskExitSchema, { containerId: "c1", exitStatus: 1 });
  assert.equal(any.typeUrl, "containerd.events.TaskExit");
  assert.equal(typeUrlOf(ImageCreateSchema), "containerd.services.images.v1.ImageCreate");
  assert.deepEqual(
    any.value,
    toBinary(TaskExitSchema, create(TaskExitSchema, { containerId: "c1", exitStatus: 1 })),
  );
});

test("unpack accepts bare and type.googleapis.com/ type URLs", () => {
  const bare = pack(RuncOptionsSchema, { binaryName: "crun" });
  const prefixed = anyPack(RuncOptionsSchema, create(RuncOptionsSchema, { binaryName: "crun" }));
  assert.equal(prefixed.typeUrl, `${GOOGLE_TYPE_URL_PREFIX}containerd.runc.v1.Options`);
  for (const any of [bare, prefixed]) {
    const msg = unpack(any);
    assert.ok(msg && isMessage(msg, RuncOptionsSchema));
    assert.equal(msg.binaryName, "crun");
    assert.ok(isType(any, RuncOptionsSchema));
    assert.equal(unpackAs(any, RuncOptionsSchema)?.binaryName, "crun");
    assert.equal(unpackAs(any, TaskExitSchema), undefined);
  }
  assert.equal(typeNameOf("type.googleapis.com/a.B"), "a.B");
  assert.equal(typeNameOf("a.B"), "a.B");
});

test("unpack returns undefined for empty, unknown and JSON type URLs", () => {
  assert.equal(unpack(create(AnySchema)), undefined);
  assert.equal(unpack(create(AnySchema, { typeUrl: "example.Unknown" })), undefined);
  assert.equal(unpack(create(AnySchema, { typeUrl: "bad/" })), undefined);
  assert.equal(unpack(packJson(JsonTypeUrl.Spec, {})), undefined);
  assert.equal(isType(undefined, TaskExitSchema), false);
});

test("the registry decodes cgroup metrics by type URL, as ctr does", () => {
  const v1 = pack(CgroupV1MetricsSchema, { pids: { current: 3n, limit: 10n } });
  assert.equal(v1.typeUrl, "io.containerd.cgroups.v1.Metrics");
  const m1 = unpack(v1);
  assert.ok(m1 && isMessage(m1, CgroupV1MetricsSchema));
  assert.equal(m1.pids?.current, 3n);

  const v2 = pack(CgroupV2MetricsSchema, { memory: { usage: 4096n } });
  assert.equal(v2.typeUrl, "io.containerd.cgroups.v2.Metrics");
  const m2 = unpack(v2);
  assert.ok(m2 && isMessage(m2, CgroupV2MetricsSchema));
  assert.equal(m2.memory?.usage, 4096n);
});

test("the registry holds every message of every file", () => {
  for (const file of apiFiles) {
    for (const m of file.messages) assert.equal(registry.getMessage(m.typeName), m);
    for (const s of file.services) assert.equal(registry.getService(s.typeName), s);
  }
  assert.ok(registry.getMessage("google.protobuf.Timestamp"));
  assert.ok(registry.getMessage("google.rpc.Status"));
});

test("packJson writes UTF-8 JSON under the given type URL; unpackJson reads it", () => {
  const spec = { ociVersion: "1.2.0", root: { path: "/r" } };
  const any = packJson(JsonTypeUrl.Spec, spec);
  assert.equal(any.typeUrl, "types.containerd.io/opencontainers/runtime-spec/1/Spec");
  assert.equal(
    Buffer.from(any.value).toString("utf8"),
    '{"ociVersion":"1.2.0","root":{"path":"/r"}}',
  );
  assert.deepEqual(unpackJson(any), spec);
  assert.deepEqual(unpackJson(any, JsonTypeUrl.Spec), spec);
  assert.equal(unpackJson(any, JsonTypeUrl.Process), undefined);
  assert.equal(JsonTypeUrl.Process, "types.containerd.io/opencontainers/runtime-spec/1/Process");
  assert.equal(
    JsonTypeUrl.LinuxResources,
    "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources",
  );
  assert.throws(() => unpackJson(create(AnySchema, { value: Uint8Array.of(0xff) })));
});

test("service names match the generated services", () => {
  const services = {
    TaskV2,
    TaskV3,
    Sandbox,
    TtrpcEvents,
    Events,
    Containers,
    Tasks,
    SandboxStore: Store,
    SandboxController: Controller,
    Namespaces,
    Leases,
    Version,
    Introspection,
  };
  assert.deepEqual(Object.keys(services).sort(), Object.keys(ServiceName).sort());
  for (const [key, desc] of Object.entries(services)) {
    assert.equal(ServiceName[key as keyof typeof ServiceName], desc.typeName, key);
  }
});

test("every topic maps to its event message", () => {
  assert.deepEqual(Object.values(Topic).sort(), Object.keys(eventSchemas).sort());
  assert.equal(eventSchemas[Topic.TaskExit], TaskExitSchema);
  for (const [name, topic] of Object.entries(Topic)) {
    assert.equal(eventSchemas[topic].name, name, topic);
  }
});

test("names carries no registry; every topic has its message in the registry", async () => {
  const names = await import("./names.js");
  const { eventSchemas } = await import("./registry.js");
  assert.ok(!("registry" in names));
  assert.deepEqual(Object.values(names.Topic).sort(), Object.keys(eventSchemas).sort());
});
