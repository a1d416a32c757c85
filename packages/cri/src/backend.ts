/**
 * What the CRI needs from the daemon: its service layer (the same objects
 * its gRPC services call), never its stores. The daemon passes its
 * `*Local` services; this package names only their shapes, so it does not
 * import the daemon.
 */
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import type { Envelope } from "@sandboxd/api/types/event_pb";
import type {
  CreateContainerRequest,
  CreateContainerResponseSchema,
  DeleteContainerRequest,
  GetContainerRequest,
  GetContainerResponseSchema,
  ListContainersRequest,
  ListContainersResponseSchema,
  UpdateContainerRequest,
  UpdateContainerResponseSchema,
} from "@sandboxd/api/services/containers/v1/containers_pb";
import type {
  ControllerCreateRequest,
  ControllerShutdownRequest,
  ControllerStartRequest,
  ControllerStartResponseSchema,
  ControllerStatusRequest,
  ControllerStatusResponseSchema,
  ControllerStopRequest,
  ControllerMetricsRequest,
  ControllerMetricsResponseSchema,
  StoreCreateRequest,
  StoreCreateResponseSchema,
  StoreDeleteRequest,
  StoreGetRequest,
  StoreGetResponseSchema,
  StoreListRequest,
  StoreListResponseSchema,
} from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import type {
  CreateTaskRequest,
  CreateTaskResponseSchema,
  DeleteProcessRequest,
  DeleteResponseSchema,
  DeleteTaskRequest,
  ExecProcessRequest,
  GetRequest,
  GetResponseSchema,
  KillRequest,
  MetricsRequest,
  MetricsResponseSchema,
  StartRequest,
  StartResponseSchema,
  UpdateTaskRequest,
  WaitRequest,
  WaitResponseSchema,
  CloseIORequest,
  ResizePtyRequest,
} from "@sandboxd/api/services/tasks/v1/tasks_pb";
import type { Ctx } from "@sandboxd/core";

type R<D extends DescMessage> = MessageInitShape<D> | Promise<MessageInitShape<D>>;
type Done = unknown;

export interface ContainersPort {
  get(ctx: Ctx, req: GetContainerRequest): R<typeof GetContainerResponseSchema>;
  list(ctx: Ctx, req: ListContainersRequest): R<typeof ListContainersResponseSchema>;
  create(ctx: Ctx, req: CreateContainerRequest): R<typeof CreateContainerResponseSchema>;
  update(ctx: Ctx, req: UpdateContainerRequest): R<typeof UpdateContainerResponseSchema>;
  delete(ctx: Ctx, req: DeleteContainerRequest): Done;
}

export interface TasksPort {
  create(ctx: Ctx, req: CreateTaskRequest): R<typeof CreateTaskResponseSchema>;
  start(ctx: Ctx, req: StartRequest): R<typeof StartResponseSchema>;
  delete(ctx: Ctx, req: DeleteTaskRequest): R<typeof DeleteResponseSchema>;
  deleteProcess(ctx: Ctx, req: DeleteProcessRequest): R<typeof DeleteResponseSchema>;
  get(ctx: Ctx, req: GetRequest): R<typeof GetResponseSchema>;
  kill(ctx: Ctx, req: KillRequest): Done;
  exec(ctx: Ctx, req: ExecProcessRequest): Done;
  closeIO(ctx: Ctx, req: CloseIORequest): Done;
  resizePty(ctx: Ctx, req: ResizePtyRequest): Done;
  update(ctx: Ctx, req: UpdateTaskRequest): Done;
  metrics(ctx: Ctx, req: MetricsRequest): R<typeof MetricsResponseSchema>;
  wait(ctx: Ctx, req: WaitRequest): R<typeof WaitResponseSchema>;
}

export interface SandboxStorePort {
  create(ctx: Ctx, req: StoreCreateRequest): R<typeof StoreCreateResponseSchema>;
  get(ctx: Ctx, req: StoreGetRequest): R<typeof StoreGetResponseSchema>;
  list(ctx: Ctx, req: StoreListRequest): R<typeof StoreListResponseSchema>;
  delete(ctx: Ctx, req: StoreDeleteRequest, force: boolean): Done;
}

export interface SandboxControllerPort {
  create(ctx: Ctx, req: ControllerCreateRequest): Done;
  start(ctx: Ctx, req: ControllerStartRequest): R<typeof ControllerStartResponseSchema>;
  stop(ctx: Ctx, req: ControllerStopRequest): Done;
  status(ctx: Ctx, req: ControllerStatusRequest): R<typeof ControllerStatusResponseSchema>;
  shutdown(ctx: Ctx, req: ControllerShutdownRequest, force: boolean): Done;
  metrics(ctx: Ctx, req: ControllerMetricsRequest): R<typeof ControllerMetricsResponseSchema>;
}

export interface EventsPort {
  /** Every event of every namespace matching containerd-style `filters`, until `signal`. */
  subscribe(signal: AbortSignal, filters: readonly string[]): AsyncIterable<Envelope>;
}

export interface Backend {
  containers: ContainersPort;
  tasks: TasksPort;
  sandboxStore: SandboxStorePort;
  sandboxController: SandboxControllerPort;
  events: EventsPort;
  images: ImagesPort;
  /** The sandbox controllers the daemon knows ("shim", proxy plugin names). */
  sandboxers: readonly string[];
  defaultSandboxer: string;
}

/** A registry credential for one pull (CRI's AuthConfig, decoded). */
export interface PullAuth {
  username?: string;
  password?: string;
  identityToken?: string;
  registryToken?: string;
}

/** An image record resolved to the host platform's manifest and config. */
export interface ImageEntry {
  /** The record's name (`docker.io/library/busybox:latest`, `…@sha256:…`). */
  name: string;
  /** The record's target digest (index or manifest): the repo digest. */
  digest: string;
  /** The config digest: the CRI image id. */
  configDigest: string;
  /** Bytes of the image's content (target, manifest, config, layers). */
  size: number;
  /** The OCI image config's `config` (User, Env, Entrypoint, Cmd, WorkingDir...). */
  config: {
    User?: string;
    Env?: readonly string[];
    Entrypoint?: readonly string[] | null;
    Cmd?: readonly string[] | null;
    WorkingDir?: string;
  };
  /** The chain ID of the top layer (the committed snapshot a container prepares on). */
  chainId: string;
  labels: Readonly<Record<string, string>>;
}

/** Bytes and inodes a snapshot (or a snapshotter) uses, and when that was measured. */
export interface FsUsage {
  usedBytes: number;
  inodesUsed: number;
  /** ms since the epoch. */
  timestampMs: number;
}

export interface Mount {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

/** The daemon's image services as the CRI needs them (PullService, images, snapshotter). */
export interface ImagesPort {
  /** A reference in its normalized form (`busybox` → `docker.io/library/busybox:latest`); InvalidArgument if it is not one. */
  normalize(ref: string): string;
  /** Pulls and unpacks into the snapshotter; the record's name. */
  pull(ctx: Ctx, ref: string, auth?: PullAuth): Promise<string>;
  list(ctx: Ctx): Promise<ImageEntry[]>;
  /** Deletes records by name (missing ones ignored), then collects garbage. */
  remove(ctx: Ctx, names: readonly string[]): Promise<void>;
  /**
   * The default snapshotter's directory and the usage of its snapshots in the ctx's namespace
   * (containerd's ImageFsInfo: the sum of every snapshot's Usage, containers' included), as of
   * the oldest of those measurements.
   */
  fsInfo(ctx: Ctx): Promise<{ mountpoint: string } & FsUsage>;
  /** The snapshotter containers' rootfs snapshots live in. */
  readonly snapshotter: string;
  /** A snapshotter's root directory: the CRI's `fs_id.mountpoint` for what it stores. */
  root(snapshotter: string): string;
  /**
   * Snapshots.Usage of `key` (an active overlay snapshot: its upper directory), measured
   * recently (ImagesPort implementations may reuse a measurement for a few seconds).
   * NotFound if there is no such snapshot or snapshotter.
   */
  usage(ctx: Ctx, snapshotter: string, key: string): Promise<FsUsage>;
  /** Prepares the active snapshot `key` on `parent` (a chain ID); its mounts. */
  prepare(ctx: Ctx, key: string, parent: string): Promise<Mount[]>;
  /** The mounts of the snapshot `key`. */
  mounts(ctx: Ctx, key: string): Promise<Mount[]>;
  /** Removes the snapshot `key` (missing ignored). */
  removeSnapshot(ctx: Ctx, key: string): Promise<void>;
}
