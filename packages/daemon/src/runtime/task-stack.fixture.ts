// A test fixture, not a test: the service stack in process (containers and
// tasks locals → task manager → shim manager) over a fake task API served on
// real ttrpc, the way a sandboxer serves its pods' tasks. Used by the task
// manager's and task recovery's unit tests; needs no root.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { background, createLogger, notFoundText, withNamespace, type Ctx } from "@sandboxd/core";
import { notFound, toStatus } from "@sandboxd/errdefs";
import { Server } from "@sandboxd/ttrpc";
import { JsonTypeUrl, packJson, ServiceName } from "@sandboxd/api";
import { Task as TaskService } from "@sandboxd/api/runtime/task/v2/shim_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";
import type { Envelope } from "@sandboxd/api/types/event_pb";
import { Exchange } from "../events/exchange.js";
import { openMetadata, type Metadata } from "../metadata/metadata.js";
import { ContainersLocal } from "../services/containers/local.js";
import { TasksLocal } from "../services/tasks/local.js";
import { BinaryShims } from "./binary-shim.js";
import { bundleDirs, type BundleDirs } from "./bundle.js";
import { ShimManager, type TaskEndpoint } from "./shim-manager.js";
import { TaskManager } from "./task-manager.js";
import type { TaskManagerOptions } from "./task-recovery.js";

export type Procs = Map<string, { status: Status; exit?: number; waiters: (() => void)[] }>;

/**
 * A task API that behaves like a shim for one process per container id. The
 * processes live in `procs`, so a new server over the same map is the
 * sandboxer after a restart (its containers kept running meanwhile).
 */
export function fakeTaskServer(procs: Procs = new Map()) {
  const server = new Server({ errorToStatus: toStatus });
  const control: {
    /** While set, State waits for it: a sandboxer too busy to answer. */
    stateGate?: Promise<void> | undefined;
    /** The pid Create answers with (42 unless set). */
    createPid?: number;
    /** Connect calls served. */
    connects: number;
  } = { connects: 0 };
  const impl = {
    create: (req: { id: string }) => {
      if (procs.has(req.id)) throw new Error("exists");
      procs.set(req.id, { status: Status.CREATED, waiters: [] });
      return { pid: control.createPid ?? 42 };
    },
    connect: () => {
      control.connects++;
      return { shimPid: 7, taskPid: 42, version: "3" };
    },
    start: (req: { id: string }) => {
      const p = procs.get(req.id);
      if (!p) throw notFound(notFoundText("task", req.id));
      p.status = Status.RUNNING;
      return { pid: 42 };
    },
    state: async (req: { id: string }) => {
      await control.stateGate;
      const p = procs.get(req.id);
      if (!p) throw notFound(notFoundText("task", req.id));
      return {
        id: req.id,
        pid: 42,
        status: p.status,
        exitStatus: p.exit ?? 0,
        exitedAt: timestampFromMs(1000),
      };
    },
    kill: (req: { id: string; signal: number }) => {
      const p = procs.get(req.id);
      if (!p) throw notFound(notFoundText("task", req.id));
      exit(p, 128 + req.signal);
      return {};
    },
    wait: async (req: { id: string }) => {
      const p = procs.get(req.id);
      if (!p) throw notFound(notFoundText("task", req.id));
      if (p.status !== Status.STOPPED) await new Promise<void>((r) => p.waiters.push(r));
      return { exitStatus: p.exit ?? 0, exitedAt: timestampFromMs(1000) };
    },
    delete: (req: { id: string }) => {
      const p = procs.get(req.id);
      if (!p) throw notFound(notFoundText("task", req.id));
      if (p.status === Status.RUNNING) throw new Error("cannot delete a running process");
      procs.delete(req.id);
      return { pid: 42, exitStatus: p.exit ?? 0, exitedAt: timestampFromMs(1000) };
    },
    shutdown: () => ({}),
  };
  server.register(TaskService, impl, { serviceName: ServiceName.TaskV3 });
  return { server, procs, control };
}

export function exit(
  p: { status: Status; exit?: number; waiters: (() => void)[] },
  code: number,
): void {
  p.status = Status.STOPPED;
  p.exit = code;
  for (const w of p.waiters.splice(0)) w();
}

export interface Stack {
  dir: string;
  socket: string;
  metadata: Metadata;
  exchange: Exchange;
  dirs: BundleDirs;
  shims: ShimManager;
  tasks: TaskManager;
  containers: ContainersLocal;
  tasksLocal: TasksLocal;
  events: Envelope[];
  fake: ReturnType<typeof fakeTaskServer>;
  /** What the sandbox API answers for an id, when set: a controller still being asked. */
  pendingEndpoints: Map<string, Promise<TaskEndpoint>>;
}

export async function stack(t: { after: (fn: () => unknown) => void }): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), "sbxd-tm-"));
  const socket = join(dir, "task.sock");
  const fake = fakeTaskServer();
  await fake.server.listen(socket);
  const metadata = openMetadata(join(dir, "root", "meta.db"));
  const exchange = new Exchange();
  const dirs = bundleDirs(join(dir, "root"), join(dir, "state"));
  const log = createLogger({ level: "silent" });
  const binary = new BinaryShims({
    grpcAddress: join(dir, "g.sock"),
    ttrpcAddress: join(dir, "g.sock.ttrpc"),
    publishBinary: "/bin/false",
    extraDirs: [],
    debug: false,
    log,
  });
  const pendingEndpoints = new Map<string, Promise<TaskEndpoint>>();
  const shims = new ShimManager(binary, {
    endpoint: (_ctx: Ctx, id: string) =>
      pendingEndpoints.get(id) ??
      (id === "sb1"
        ? Promise.resolve({ address: `ttrpc+unix://${socket}`, version: 3 })
        : Promise.reject(notFound(notFoundText("sandbox", id)))),
    knownEndpoint: (_ns: string, id: string) =>
      id === "sb1" ? { address: `ttrpc+unix://${socket}`, version: 3 } : undefined,
  });
  const root = background(log);
  const tasks = new TaskManager({
    dirs,
    shims,
    publisher: exchange,
    containerExists: (ctx, id) => metadata.containers.has(ctx, id),
    root,
  });
  const events: Envelope[] = [];
  exchange.listen((e) => {
    events.push(e);
    tasks.observe(e);
  });
  t.after(async () => {
    await tasks.close();
    await fake.server.close();
    metadata.db.close();
    await rm(dir, { recursive: true, force: true });
  });
  return {
    dir,
    socket,
    metadata,
    exchange,
    dirs,
    shims,
    tasks,
    containers: new ContainersLocal({
      store: metadata.containers,
      publisher: exchange,
      hasTask: (ctx, id) => tasks.has(ctx, id),
    }),
    tasksLocal: new TasksLocal(metadata.containers, tasks),
    events,
    fake,
    pendingEndpoints,
  };
}

export const ctx = withNamespace(background(), "k8s");
export const spec = packJson(JsonTypeUrl.Spec, { ociVersion: "1.0.2" });

export function createContainer(
  s: Stack,
  id: string,
  sandbox: string,
  runtime = "io.containerd.runc.v2",
): void {
  s.containers.create(ctx, {
    container: { id, runtime: { name: runtime }, spec, sandbox },
  } as never);
}

/** A new task manager over the stack's dirs: the daemon after a restart. */
export function restartedManager(
  s: Stack,
  t: { after: (fn: () => unknown) => void },
  options: Partial<TaskManagerOptions> = {},
): { tasks: TaskManager; local: TasksLocal } {
  const tasks = new TaskManager({
    dirs: s.dirs,
    shims: s.shims,
    publisher: s.exchange,
    containerExists: (c, id) => s.metadata.containers.has(c, id),
    root: background(),
    ...options,
  });
  t.after(() => tasks.close());
  s.exchange.listen((e) => tasks.observe(e));
  return { tasks, local: new TasksLocal(s.metadata.containers, tasks) };
}
