// The names and conventions of containerd's API, with no side effect: event
// topics, service names, containerd's Any type-URL conventions and the pack
// helpers. Loading it builds no registry, so long-running processes (the
// sandboxer) and the SDK take it from here (`@sandboxd/api/names`); the
// registry of every message is `@sandboxd/api/registry`.
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { create, toBinary } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { AnySchema, anyIs, anyUnpack } from "@bufbuild/protobuf/wkt";

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
} as const;
/** An event topic containerd publishes (every one has a message in the registry's `eventSchemas`). */
export type EventTopic = (typeof Topic)[keyof typeof Topic];
