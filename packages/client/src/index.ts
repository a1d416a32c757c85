// @sandboxd/client: the TypeScript SDK for sandboxd, shaped like containerd's Go client.

export { Client } from "./client.js";
export type { ConnectOptions, SubscribeOptions, VersionInfo } from "./client.js";
export type { CallOptions } from "./call-options.js";
export {
  DEFAULT_ADDRESS,
  DEFAULT_NAMESPACE,
  DEFAULT_RUNTIME,
  DEFAULT_SANDBOX_RUNTIME,
  DEFAULT_SANDBOXER,
  DefaultsLabel,
  NAMESPACE_HEADER,
  UNKNOWN_EXIT_STATUS,
} from "./defaults.js";
export { ProcessStatus } from "./convert.js";
export type { ExitStatus } from "./convert.js";

export { NamespaceService } from "./namespaces.js";
export type { NamespaceInfo } from "./namespaces.js";

export { Sandbox, SandboxState } from "./sandbox.js";
export type {
  NewSandboxOptions,
  Platform,
  SandboxInfo,
  SandboxInstance,
  SandboxStatus,
  SandboxUpdate,
  ShutdownOptions,
} from "./sandbox.js";
export { podNetworkAnnotation } from "./sandbox-network.js";
export type { PortMapping, SandboxNetwork } from "./sandbox-network.js";

export { Container } from "./container.js";
export type {
  ContainerInfo,
  ContainerUpdate,
  DeleteContainerOptions,
  NewContainerOptions,
  NewTaskOptions,
  RuntimeInfo,
} from "./container.js";

export { Task } from "./task.js";
export type { DeleteTaskOptions, ExecOptions, ProcessInfo } from "./task.js";
export { Process, ProcessBase, signalNumber } from "./process.js";
export type { KillOptions, ProcessState, Signal } from "./process.js";

export {
  CapturedIO,
  attachFifos,
  capture,
  defaultFifoDir,
  nullIO,
  preparedIO,
  stdio,
  withStreams,
} from "./cio/io.js";
export type { FifoOptions, IOConfig, IOCreator, PreparedIO, Streams, TaskIO } from "./cio/io.js";

export { BUSYBOX_PATH, prepareBusyboxRootfs } from "./rootfs/busybox.js";
export type { BusyboxRootfsOptions } from "./rootfs/busybox.js";

export { decodeEnvelope } from "./events.js";
export type { Envelope, EventMessage } from "./events.js";

export { decodeMetric } from "./metrics.js";
export type { CgroupV1Metrics, CgroupV2Metrics, Metrics } from "./metrics.js";

export {
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_NAMESPACES,
  DEFAULT_PATH_ENV,
  DEFAULT_READONLY_PATHS,
  applySpecOpts,
  defaultMounts,
  defaultSpec,
  execProcess,
  mergeEnv,
  packProcess,
  packSpec,
  unpackSpec,
  withAddedCapabilities,
  withAnnotations,
  withArgs,
  withCgroupsPath,
  withCpuQuota,
  withCwd,
  withEnv,
  withHostNamespace,
  withHostname,
  withMemoryLimit,
  withMounts,
  withNamespace,
  withPidsLimit,
  withReadonlyRootfs,
  withRootfs,
  withTerminal,
  withUser,
} from "./oci/spec.js";
export type { DefaultSpecOptions, SpecOpt } from "./oci/spec.js";
export type { LinuxSeccomp } from "@sandboxd/core/oci";
export { NamespaceType, OCI_VERSION } from "./oci/types.js";
export type {
  Capabilities,
  Linux,
  LinuxDeviceCgroup,
  LinuxIdMapping,
  LinuxNamespace,
  LinuxResources,
  Mount,
  Process as ProcessSpec,
  Rlimit,
  Root,
  Spec,
  User,
} from "./oci/types.js";

export type { PullOptions, PullProgress, PulledImage, RegistryCredentials } from "./images.js";
export { imageProcess, resolveUser } from "./images-config.js";
export type {
  ImageProcess,
  ImageProcessConfig,
  ProcessOverrides,
  ResolvedUser,
} from "./images-config.js";
export type { ImageInfo } from "./images-records.js";
export type { ExportImageOptions, ImportImageOptions } from "./images-archive.js";
export type { ImageRootfs } from "./images-rootfs.js";
export type { ImageProcessOptions } from "./container-image.js";
