/**
 * containerd's Any conventions (bare type URLs, JSON payloads for OCI types) and
 * the names the sandboxer uses, without loading @sandboxd/api's index: that
 * builds a registry of every containerd message, which this long-running
 * process never needs (it costs resident memory on every node).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { AnySchema } from "@bufbuild/protobuf/wkt";

/** Packs a message as containerd does: the bare full name as the type URL. */
export function pack<D extends DescMessage>(schema: D, message: MessageInitShape<D>): Any {
  return create(AnySchema, {
    typeUrl: schema.typeName,
    value: toBinary(schema, create(schema, message)),
  });
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** The JSON value inside an Any (OCI types travel as JSON). */
export function unpackJson(any: Any): unknown {
  return JSON.parse(decoder.decode(any.value)) as unknown;
}

const oci = "types.containerd.io/opencontainers/runtime-spec/1";
export const JsonTypeUrl = {
  Spec: `${oci}/Spec`,
  Process: `${oci}/Process`,
  LinuxResources: `${oci}/LinuxResources`,
} as const;

export const TaskServiceV2 = "containerd.task.v2.Task";

export const Topic = {
  TaskCreate: "/tasks/create",
  TaskStart: "/tasks/start",
  TaskExit: "/tasks/exit",
  TaskOOM: "/tasks/oom",
  TaskExecAdded: "/tasks/exec-added",
  TaskExecStarted: "/tasks/exec-started",
  TaskPaused: "/tasks/paused",
  TaskResumed: "/tasks/resumed",
  TaskDelete: "/tasks/delete",
  SandboxCreate: "/sandboxes/create",
  SandboxStart: "/sandboxes/start",
  SandboxExit: "/sandboxes/exit",
} as const;
