// Hand-written helpers over the generated code: one registry of every message,
// containerd's Any type-URL conventions, and the well-known names (services,
// event topics). The generated modules themselves are imported by path, e.g.
// "@sandboxd/api/services/tasks/v1/tasks_pb".
import type {
  DescFile,
  DescMessage,
  Message,
  MessageInitShape,
  MessageShape,
  Registry,
} from "@bufbuild/protobuf";
import { create, createRegistry, toBinary } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import {
  AnySchema,
  anyIs,
  anyUnpack,
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";

import { file_cgroups_cgroup1_stats_metrics } from "./gen/cgroups/cgroup1/stats/metrics_pb.js";
import { file_cgroups_cgroup2_stats_metrics } from "./gen/cgroups/cgroup2/stats/metrics_pb.js";
import {
  ContainerCreateSchema,
  ContainerDeleteSchema,
  ContainerUpdateSchema,
  file_events_container,
} from "./gen/events/container_pb.js";
import {
  ContentCreateSchema,
  ContentDeleteSchema,
  file_events_content,
} from "./gen/events/content_pb.js";
import {
  ImageCreateSchema,
  ImageDeleteSchema,
  ImageUpdateSchema,
  file_events_image,
} from "./gen/events/image_pb.js";
import {
  NamespaceCreateSchema,
  NamespaceDeleteSchema,
  NamespaceUpdateSchema,
  file_events_namespace,
} from "./gen/events/namespace_pb.js";
import {
  SandboxCreateSchema,
  SandboxExitSchema,
  SandboxStartSchema,
  file_events_sandbox,
} from "./gen/events/sandbox_pb.js";
import {
  SnapshotCommitSchema,
  SnapshotPrepareSchema,
  SnapshotRemoveSchema,
  file_events_snapshot,
} from "./gen/events/snapshot_pb.js";
import {
  TaskCheckpointedSchema,
  TaskCreateSchema,
  TaskDeleteSchema,
  TaskExecAddedSchema,
  TaskExecStartedSchema,
  TaskExitSchema,
  TaskOOMSchema,
  TaskPausedSchema,
  TaskResumedSchema,
  TaskStartSchema,
  file_events_task,
} from "./gen/events/task_pb.js";
import { file_google_rpc_status } from "./gen/google/rpc/status_pb.js";
import { file_runtime_bootstrap_v1_bootstrap } from "./gen/runtime/bootstrap/v1/bootstrap_pb.js";
import { file_runtime_sandbox_v1_sandbox } from "./gen/runtime/sandbox/v1/sandbox_pb.js";
import { file_runtime_task_v2_shim } from "./gen/runtime/task/v2/shim_pb.js";
import { file_runtime_task_v3_shim } from "./gen/runtime/task/v3/shim_pb.js";
import { file_services_containers_v1_containers } from "./gen/services/containers/v1/containers_pb.js";
import { file_services_events_v1_events } from "./gen/services/events/v1/events_pb.js";
import { file_services_introspection_v1_introspection } from "./gen/services/introspection/v1/introspection_pb.js";
import { file_services_leases_v1_leases } from "./gen/services/leases/v1/leases_pb.js";
import { file_services_namespaces_v1_namespace } from "./gen/services/namespaces/v1/namespace_pb.js";
import { file_services_sandbox_v1_sandbox } from "./gen/services/sandbox/v1/sandbox_pb.js";
import { file_services_tasks_v1_tasks } from "./gen/services/tasks/v1/tasks_pb.js";
import { file_services_ttrpc_events_v1_events } from "./gen/services/ttrpc/events/v1/events_pb.js";
import { file_services_version_v1_version } from "./gen/services/version/v1/version_pb.js";
import { file_types_descriptor } from "./gen/types/descriptor_pb.js";
import { file_types_event } from "./gen/types/event_pb.js";
import { file_types_fieldpath } from "./gen/types/fieldpath_pb.js";
import { file_types_introspection } from "./gen/types/introspection_pb.js";
import { file_types_metrics } from "./gen/types/metrics_pb.js";
import { file_types_mount } from "./gen/types/mount_pb.js";
import { file_types_platform } from "./gen/types/platform_pb.js";
import { file_types_runc_options_oci } from "./gen/types/runc/options/oci_pb.js";
import { file_types_runtimeoptions_v1_api } from "./gen/types/runtimeoptions/v1/api_pb.js";
import { file_types_sandbox } from "./gen/types/sandbox_pb.js";
import { file_types_task_task } from "./gen/types/task/task_pb.js";

/** Every file under proto/, in a stable order. */
export const apiFiles: readonly DescFile[] = [
  file_google_rpc_status,
  file_types_descriptor,
  file_types_event,
  file_types_fieldpath,
  file_types_introspection,
  file_types_metrics,
  file_types_mount,
  file_types_platform,
  file_types_runc_options_oci,
  file_types_runtimeoptions_v1_api,
  file_types_sandbox,
  file_types_task_task,
  file_services_containers_v1_containers,
  file_services_events_v1_events,
  file_services_introspection_v1_introspection,
  file_services_leases_v1_leases,
  file_services_namespaces_v1_namespace,
  file_services_sandbox_v1_sandbox,
  file_services_tasks_v1_tasks,
  file_services_ttrpc_events_v1_events,
  file_services_version_v1_version,
  file_runtime_bootstrap_v1_bootstrap,
  file_runtime_sandbox_v1_sandbox,
  file_runtime_task_v2_shim,
  file_runtime_task_v3_shim,
  file_events_container,
  file_events_content,
  file_events_image,
  file_events_namespace,
  file_events_sandbox,
  file_events_snapshot,
  file_events_task,
  file_cgroups_cgroup1_stats_metrics,
  file_cgroups_cgroup2_stats_metrics,
];

/**
 * Every message, enum, service and extension of the API, plus the well-known
 * types that travel inside Any (Timestamp, Duration, Empty, FieldMask, Any).
 */
export const registry: Registry = createRegistry(
  ...apiFiles,
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_timestamp,
);

// ---- Any: containerd's typeurl conventions ----

/** The prefix protobuf's own Any helpers use; containerd accepts it but never sends it. */
export const GOOGLE_TYPE_URL_PREFIX = "type.googleapis.com/";

/** containerd's type URL for a proto message: its bare full name, e.g. "containerd.events.TaskExit". */
export function typeUrlOf(schema: DescMessage): string {
  return schema.typeName;
}

/** The message name a type URL designates: the part after the last "/" (Go does the same). */
export function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
}

/** Whether `any` holds a `schema` message (bare or prefixed type URL). */
export function isType(any: Any | undefined, schema: DescMessage): boolean {
  return any !== undefined && any.typeUrl !== "" && anyIs(any, schema);
}

/** Packs a message the way containerd does: bare full name as the type URL. */
export function pack<Desc extends DescMessage>(schema: Desc, message: MessageInitShape<Desc>): Any {
  return create(AnySchema, {
    typeUrl: typeUrlOf(schema),
    value: toBinary(schema, create(schema, message)),
  });
}

/**
 * Decodes an Any whose type is in `from` (default: this package's registry).
 * Returns undefined for an empty Any or an unknown type (including JSON types).
 */
export function unpack(any: Any, from: Registry = registry): Message | undefined {
  if (any.typeUrl === "" || typeNameOf(any.typeUrl) === "") return undefined;
  return anyUnpack(any, from);
}

/** Decodes an Any as `schema`; undefined if it holds another type. */
export function unpackAs<Desc extends DescMessage>(
  any: Any,
  schema: Desc,
): MessageShape<Desc> | undefined {
  return isType(any, schema) ? anyUnpack(any, schema) : undefined;
}

// ---- Any with JSON payloads (Go types registered with typeurl.Register) ----

const OCI_SPEC_URL = "types.containerd.io/opencontainers/runtime-spec/1";

/** Type URLs of the OCI runtime-spec types containerd sends as JSON in an Any. */
export const JsonTypeUrl = {
  /** Container.spec, Sandbox.spec: the whole OCI spec (config.json). */
  Spec: `${OCI_SPEC_URL}/Spec`,
  /** ExecProcessRequest.spec: an OCI Process. */
  Process: `${OCI_SPEC_URL}/Process`,
  /** UpdateTaskRequest.resources on Linux. */
  LinuxResources: `${OCI_SPEC_URL}/LinuxResources`,
  /** UpdateTaskRequest.resources on Windows. */
  WindowsResources: `${OCI_SPEC_URL}/WindowsResources`,
  /** RuntimeInfo.features: the OCI runtime features document. */
  Features: `${OCI_SPEC_URL}/features/Features`,
} as const;
export type JsonTypeUrl = (typeof JsonTypeUrl)[keyof typeof JsonTypeUrl];

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** Packs a JSON value under a type URL (value = UTF-8 JSON, as Go's json.Marshal). */
export function packJson(typeUrl: string, value: unknown): Any {
  return create(AnySchema, { typeUrl, value: utf8Encoder.encode(JSON.stringify(value)) });
}

/**
 * Parses the JSON in an Any. With `typeUrl`, returns undefined when the Any
 * holds another type. Throws on bytes that are not UTF-8 JSON.
 */
export function unpackJson(any: Any, typeUrl?: string): unknown {
  if (typeUrl !== undefined && any.typeUrl !== typeUrl) return undefined;
  return JSON.parse(utf8Decoder.decode(any.value)) as unknown;
}

// ---- well-known names ----

/** Full service names, as used in ttrpc requests and gRPC paths ("/" + name + "/" + method). */
export const ServiceName = {
  TaskV2: "containerd.task.v2.Task",
  TaskV3: "containerd.task.v3.Task",
  Sandbox: "containerd.runtime.sandbox.v1.Sandbox",
  TtrpcEvents: "containerd.services.events.ttrpc.v1.Events",
  Events: "containerd.services.events.v1.Events",
  Containers: "containerd.services.containers.v1.Containers",
  Tasks: "containerd.services.tasks.v1.Tasks",
  SandboxStore: "containerd.services.sandbox.v1.Store",
  SandboxController: "containerd.services.sandbox.v1.Controller",
  Namespaces: "containerd.services.namespaces.v1.Namespaces",
  Leases: "containerd.services.leases.v1.Leases",
  Version: "containerd.services.version.v1.Version",
  Introspection: "containerd.services.introspection.v1.Introspection",
} as const;
export type ServiceName = (typeof ServiceName)[keyof typeof ServiceName];

/** Event topic → the message its envelope carries. */
export const eventSchemas = {
  "/tasks/create": TaskCreateSchema,
  "/tasks/start": TaskStartSchema,
  "/tasks/exit": TaskExitSchema,
  "/tasks/oom": TaskOOMSchema,
  "/tasks/exec-added": TaskExecAddedSchema,
  "/tasks/exec-started": TaskExecStartedSchema,
  "/tasks/paused": TaskPausedSchema,
  "/tasks/resumed": TaskResumedSchema,
  "/tasks/checkpointed": TaskCheckpointedSchema,
  "/tasks/delete": TaskDeleteSchema,
  "/containers/create": ContainerCreateSchema,
  "/containers/update": ContainerUpdateSchema,
  "/containers/delete": ContainerDeleteSchema,
  "/namespaces/create": NamespaceCreateSchema,
  "/namespaces/update": NamespaceUpdateSchema,
  "/namespaces/delete": NamespaceDeleteSchema,
  "/sandboxes/create": SandboxCreateSchema,
  "/sandboxes/start": SandboxStartSchema,
  "/sandboxes/exit": SandboxExitSchema,
  "/images/create": ImageCreateSchema,
  "/images/update": ImageUpdateSchema,
  "/images/delete": ImageDeleteSchema,
  "/content/create": ContentCreateSchema,
  "/content/delete": ContentDeleteSchema,
  "/snapshot/prepare": SnapshotPrepareSchema,
  "/snapshot/commit": SnapshotCommitSchema,
  "/snapshot/remove": SnapshotRemoveSchema,
} as const satisfies Record<string, DescMessage>;
export type EventTopic = keyof typeof eventSchemas;

/** Event topics by short name, e.g. `Topic.TaskExit === "/tasks/exit"`. */
export const Topic = {
  TaskCreate: "/tasks/create",
  TaskStart: "/tasks/start",
  TaskExit: "/tasks/exit",
  TaskOOM: "/tasks/oom",
  TaskExecAdded: "/tasks/exec-added",
  TaskExecStarted: "/tasks/exec-started",
  TaskPaused: "/tasks/paused",
  TaskResumed: "/tasks/resumed",
  TaskCheckpointed: "/tasks/checkpointed",
  TaskDelete: "/tasks/delete",
  ContainerCreate: "/containers/create",
  ContainerUpdate: "/containers/update",
  ContainerDelete: "/containers/delete",
  NamespaceCreate: "/namespaces/create",
  NamespaceUpdate: "/namespaces/update",
  NamespaceDelete: "/namespaces/delete",
  SandboxCreate: "/sandboxes/create",
  SandboxStart: "/sandboxes/start",
  SandboxExit: "/sandboxes/exit",
  ImageCreate: "/images/create",
  ImageUpdate: "/images/update",
  ImageDelete: "/images/delete",
  ContentCreate: "/content/create",
  ContentDelete: "/content/delete",
  SnapshotPrepare: "/snapshot/prepare",
  SnapshotCommit: "/snapshot/commit",
  SnapshotRemove: "/snapshot/remove",
} as const satisfies Record<string, EventTopic>;
