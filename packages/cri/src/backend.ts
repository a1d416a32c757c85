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
  /** The sandbox controllers the daemon knows ("shim", proxy plugin names). */
  sandboxers: readonly string[];
  defaultSandboxer: string;
}
