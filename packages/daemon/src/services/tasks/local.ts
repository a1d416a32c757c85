/**
 * Tasks policy (containerd services/tasks/local.go): find the container and
 * its task, call the task's process, answer in the daemon's message shapes.
 * Task events (/tasks/create, /tasks/start, /tasks/exit, ...) come from the
 * shims, not from here, as with containerd's runtime v2.
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { invalidArgument, isNotFound, notImplemented } from "@sandboxd/errdefs";
import { namespaceRequired, parseFilters, withTimeout, type Ctx } from "@sandboxd/core";
import type {
  CheckpointTaskRequest,
  CheckpointTaskResponseSchema,
  CloseIORequest,
  CreateTaskRequest,
  CreateTaskResponseSchema,
  DeleteProcessRequest,
  DeleteResponseSchema,
  DeleteTaskRequest,
  ExecProcessRequest,
  GetRequest,
  GetResponseSchema,
  KillRequest,
  ListPidsRequest,
  ListPidsResponseSchema,
  ListTasksRequest,
  ListTasksResponseSchema,
  MetricsRequest,
  MetricsResponseSchema,
  PauseTaskRequest,
  ResizePtyRequest,
  ResumeTaskRequest,
  StartRequest,
  StartResponseSchema,
  UpdateTaskRequest,
  WaitRequest,
  WaitResponseSchema,
} from "@sandboxd/api/services/tasks/v1/tasks_pb";
import type { StateResponse } from "@sandboxd/api/runtime/task/v2/shim_pb";
import { Status, type ProcessSchema } from "@sandboxd/api/types/task/task_pb";
import type { ContainerStore } from "../../metadata/containers.js";
import type { ExitInfo } from "../../runtime/shim.js";
import type { Task } from "../../runtime/task.js";
import type { TaskManager } from "../../runtime/task-manager.js";
import { empty, type Empty, type Reply } from "../reply.js";

/** containerd bounds State in Get/List to 2 s so one stuck shim does not hang a listing. */
const stateTimeoutMs = 2000;

export class TasksLocal {
  readonly #containers: ContainerStore;
  readonly #tasks: TaskManager;

  constructor(containers: ContainerStore, tasks: TaskManager) {
    this.#containers = containers;
    this.#tasks = tasks;
  }

  async create(ctx: Ctx, req: CreateTaskRequest): Promise<Reply<typeof CreateTaskResponseSchema>> {
    if (req.checkpoint) throw notImplemented("restoring a task from a checkpoint");
    const container = this.#containers.get(ctx, req.containerId);
    const task = await this.#tasks.create(ctx, container, {
      rootfs: req.rootfs,
      stdin: req.stdin,
      stdout: req.stdout,
      stderr: req.stderr,
      terminal: req.terminal,
      options: req.options,
      runtimePath: req.runtimePath,
    });
    return { containerId: task.id, pid: task.pid };
  }

  async start(ctx: Ctx, req: StartRequest): Promise<Reply<typeof StartResponseSchema>> {
    const task = this.#task(ctx, req.containerId);
    // An exec's start is a runc exec, which joins the container's cgroups.
    if (req.execId)
      return { pid: await this.#tasks.migrations.during(() => task.start(ctx, req.execId)) };
    return { pid: await task.start(ctx, req.execId) };
  }

  async delete(ctx: Ctx, req: DeleteTaskRequest): Promise<Reply<typeof DeleteResponseSchema>> {
    this.#containers.get(ctx, req.containerId);
    return exitReply(req.containerId, await this.#tasks.delete(ctx, req.containerId));
  }

  async deleteProcess(
    ctx: Ctx,
    req: DeleteProcessRequest,
  ): Promise<Reply<typeof DeleteResponseSchema>> {
    const task = this.#task(ctx, req.containerId);
    return exitReply(req.execId, await task.deleteProcess(ctx, req.execId));
  }

  async get(ctx: Ctx, req: GetRequest): Promise<Reply<typeof GetResponseSchema>> {
    const task = this.#task(ctx, req.containerId);
    return { process: await processOf(ctx, task, req.execId) };
  }

  async list(ctx: Ctx, _req: ListTasksRequest): Promise<Reply<typeof ListTasksResponseSchema>> {
    const processes = await Promise.all(
      this.#tasks.list(ctx).map((task) =>
        processOf(ctx, task, "").catch((err: unknown) => {
          // A task deleted while we listed it is not an error.
          if (!isNotFound(err)) ctx.log.warn({ error: err, id: task.id }, "get task state");
          return undefined;
        }),
      ),
    );
    return { tasks: processes.filter((p) => p !== undefined) };
  }

  async kill(ctx: Ctx, req: KillRequest): Promise<Empty> {
    await this.#task(ctx, req.containerId).kill(ctx, req.signal, req.all, req.execId);
    return empty;
  }

  async exec(ctx: Ctx, req: ExecProcessRequest): Promise<Empty> {
    if (req.execId === "") throw invalidArgument("exec id cannot be empty");
    await this.#task(ctx, req.containerId).exec(ctx, {
      execId: req.execId,
      stdin: req.stdin,
      stdout: req.stdout,
      stderr: req.stderr,
      terminal: req.terminal,
      spec: req.spec,
    });
    return empty;
  }

  async resizePty(ctx: Ctx, req: ResizePtyRequest): Promise<Empty> {
    await this.#task(ctx, req.containerId).resizePty(ctx, req.width, req.height, req.execId);
    return empty;
  }

  async closeIO(ctx: Ctx, req: CloseIORequest): Promise<Empty> {
    const task = this.#task(ctx, req.containerId);
    if (req.stdin) await task.closeIO(ctx, true, req.execId);
    return empty;
  }

  async pause(ctx: Ctx, req: PauseTaskRequest): Promise<Empty> {
    await this.#task(ctx, req.containerId).pause(ctx);
    return empty;
  }

  async resume(ctx: Ctx, req: ResumeTaskRequest): Promise<Empty> {
    await this.#task(ctx, req.containerId).resume(ctx);
    return empty;
  }

  async listPids(ctx: Ctx, req: ListPidsRequest): Promise<Reply<typeof ListPidsResponseSchema>> {
    const r = await this.#task(ctx, req.containerId).pids(ctx);
    return { processes: r.processes };
  }

  checkpoint(_ctx: Ctx, _req: CheckpointTaskRequest): Reply<typeof CheckpointTaskResponseSchema> {
    throw notImplemented("checkpoint");
  }

  async update(ctx: Ctx, req: UpdateTaskRequest): Promise<Empty> {
    await this.#task(ctx, req.containerId).update(ctx, req.resources, req.annotations);
    return empty;
  }

  async metrics(ctx: Ctx, req: MetricsRequest): Promise<Reply<typeof MetricsResponseSchema>> {
    const filter = parseFilters(req.filters);
    const ns = namespaceRequired(ctx);
    const tasks = this.#tasks
      .list(ctx)
      .filter((t) =>
        filter((path) => (path[0] === "id" ? t.id : path[0] === "namespace" ? ns : undefined)),
      );
    const metrics = await Promise.all(
      tasks.map(async (task) => {
        const collected = Date.now();
        try {
          const stats = await task.stats(ctx);
          return { timestamp: timestampFromMs(collected), id: task.id, data: stats.stats };
        } catch (err) {
          if (!isNotFound(err)) ctx.log.warn({ error: err, id: task.id }, "collecting metrics");
          return undefined;
        }
      }),
    );
    return { metrics: metrics.filter((m) => m !== undefined) };
  }

  async wait(ctx: Ctx, req: WaitRequest): Promise<Reply<typeof WaitResponseSchema>> {
    const exit = await this.#task(ctx, req.containerId).wait(ctx, req.execId);
    return { exitStatus: exit.exitStatus, exitedAt: timestampFromMs(exit.exitedAt) };
  }

  /** The container's task; NotFound naming the container when that is what is missing. */
  #task(ctx: Ctx, id: string): Task {
    if (!this.#tasks.has(ctx, id)) this.#containers.get(ctx, id);
    return this.#tasks.get(ctx, id);
  }
}

function exitReply(id: string, exit: ExitInfo): Reply<typeof DeleteResponseSchema> {
  return {
    id,
    pid: exit.pid,
    exitStatus: exit.exitStatus,
    exitedAt: timestampFromMs(exit.exitedAt),
  };
}

async function processOf(
  ctx: Ctx,
  task: Task,
  execId: string,
): Promise<Reply<typeof ProcessSchema>> {
  let state: StateResponse;
  const bounded = withTimeout(ctx, stateTimeoutMs);
  try {
    state = await task.state(bounded.ctx, execId);
  } catch (err) {
    if (isNotFound(err)) throw err;
    ctx.log.warn({ error: err, id: task.id }, "get state");
    return { containerId: task.id, id: execId || task.id, pid: task.pid, status: Status.UNKNOWN };
  } finally {
    bounded.done();
  }
  return {
    containerId: task.id,
    id: execId || task.id,
    pid: state.pid,
    status: state.status,
    stdin: state.stdin,
    stdout: state.stdout,
    stderr: state.stderr,
    terminal: state.terminal,
    exitStatus: state.exitStatus,
    exitedAt: state.exitedAt,
  };
}
