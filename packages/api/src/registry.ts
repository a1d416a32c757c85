// One registry of every message of the API (for decoding any Any, and the
// event topic → message table). Building it loads every generated module:
// import it only where a message of any type must be decoded (the daemon, ctr
// interop); names and pack helpers are in ./names.js.
import type { DescFile, Message, Registry } from "@bufbuild/protobuf";
import { createRegistry } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import {
  anyUnpack,
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";
import type { DescMessage } from "@bufbuild/protobuf";
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
import { file_services_streaming_v1_streaming } from "./gen/services/streaming/v1/streaming_pb.js";
import { file_services_transfer_v1_transfer } from "./gen/services/transfer/v1/transfer_pb.js";
import { file_types_transfer_imagestore } from "./gen/types/transfer/imagestore_pb.js";
import { file_types_transfer_importexport } from "./gen/types/transfer/importexport_pb.js";
import { file_types_transfer_progress } from "./gen/types/transfer/progress_pb.js";
import { file_types_transfer_registry } from "./gen/types/transfer/registry_pb.js";
import { file_types_transfer_streaming } from "./gen/types/transfer/streaming_pb.js";
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

import { typeNameOf, type EventTopic } from "./names.js";

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
  file_types_transfer_imagestore,
  file_types_transfer_importexport,
  file_types_transfer_progress,
  file_types_transfer_registry,
  file_types_transfer_streaming,
  file_services_containers_v1_containers,
  file_services_events_v1_events,
  file_services_introspection_v1_introspection,
  file_services_leases_v1_leases,
  file_services_namespaces_v1_namespace,
  file_services_sandbox_v1_sandbox,
  file_services_streaming_v1_streaming,
  file_services_tasks_v1_tasks,
  file_services_transfer_v1_transfer,
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

/**
 * Decodes an Any whose type is in `from` (default: this package's registry).
 * Returns undefined for an empty Any or an unknown type (including JSON types).
 */
export function unpack(any: Any, from: Registry = registry): Message | undefined {
  if (any.typeUrl === "" || typeNameOf(any.typeUrl) === "") return undefined;
  return anyUnpack(any, from);
}

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
} as const satisfies Record<EventTopic, DescMessage>;
