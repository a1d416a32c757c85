// An in-process stand-in for sandboxd's gRPC API, for tests of the SDK and the
// CLI that need no root: in-memory records, host processes as tasks (see
// fake-process.ts), events, and failure injection. Exported as
// "@sandboxd/client/testing"; not part of the SDK.
import { EventEmitter, on } from "node:events";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { pack, unpackJson } from "@sandboxd/api";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { GrpcServer } from "@sandboxd/grpc";
import type { ServerCall } from "@sandboxd/grpc";
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from "@sandboxd/errdefs";
import { MetricsSchema as V2MetricsSchema } from "@sandboxd/api/cgroups/cgroup2/stats/metrics_pb";
import {
  SandboxCreateSchema,
  SandboxExitSchema,
  SandboxStartSchema,
} from "@sandboxd/api/events/sandbox_pb";
import { TaskExitSchema, TaskStartSchema } from "@sandboxd/api/events/task_pb";
import type { Container } from "@sandboxd/api/services/containers/v1/containers_pb";
import { ContainerSchema, Containers } from "@sandboxd/api/services/containers/v1/containers_pb";
import { Events } from "@sandboxd/api/services/events/v1/events_pb";
import { Introspection } from "@sandboxd/api/services/introspection/v1/introspection_pb";
import { Namespaces } from "@sandboxd/api/services/namespaces/v1/namespace_pb";
import { Controller, Store } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Tasks } from "@sandboxd/api/services/tasks/v1/tasks_pb";
import { Version } from "@sandboxd/api/services/version/v1/version_pb";
import type { Envelope } from "@sandboxd/api/types/event_pb";
import { EnvelopeSchema } from "@sandboxd/api/types/event_pb";
import type { Sandbox } from "@sandboxd/api/types/sandbox_pb";
import { SandboxSchema } from "@sandboxd/api/types/sandbox_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { FakeProcess } from "./fake-process.js";

/** A running fake daemon. */
export interface FakeDaemon {
  /** The socket path. */
  readonly address: string;
  /** `namespace /Service/Method` of every call, in order. */
  readonly calls: string[];
  /** Makes the next call of `method` (e.g. "Controller/Create") fail with `error`. */
  failNext(method: string, error: Error): void;
  /** Stops the server and kills leftover processes. */
  close(): Promise<void>;
}

interface SandboxState {
  state: "SANDBOX_READY" | "SANDBOX_NOTREADY";
  pid: number;
  createdAt: Date;
  exitedAt: Date | undefined;
  exited: Promise<void>;
  exit: () => void;
}

/** Starts a fake daemon listening on `<dir>/fake.sock`. */
export async function startFakeDaemon(options: {
  dir: string;
  version?: string;
}): Promise<FakeDaemon> {
  const address = join(options.dir, "fake.sock");
  const calls: string[] = [];
  const failures = new Map<string, Error>();
  const namespaces = new Map<string, Record<string, string>>();
  const sandboxes = new Map<string, Sandbox>();
  const instances = new Map<string, SandboxState>();
  const containers = new Map<string, Container>();
  const tasks = new Map<string, FakeProcess>();
  const bus = new EventEmitter();
  bus.setMaxListeners(0);

  const ns = (call: ServerCall): string => {
    const name = call.header("containerd-namespace");
    calls.push(`${name ?? ""} ${call.path}`);
    const failure = failures.get(call.path.split(".").pop() ?? "");
    if (failure) {
      failures.delete(call.path.split(".").pop() ?? "");
      throw failure;
    }
    if (!name) throw failedPrecondition("namespace is required");
    if (!namespaces.has(name)) namespaces.set(name, {});
    return name;
  };
  const key = (namespace: string, id: string): string => `${namespace}/${id}`;
  const publish = <D extends DescMessage>(
    namespace: string,
    topic: string,
    schema: D,
    event: MessageInitShape<D>,
  ): void => {
    const envelope = create(EnvelopeSchema, {
      timestamp: timestampFromDate(new Date()),
      namespace,
      topic,
      event: pack(schema, event),
    });
    bus.emit("event", envelope);
  };
  const getTask = (namespace: string, id: string, execId = ""): FakeProcess => {
    const task = tasks.get(key(namespace, execId ? `${id}/${execId}` : id));
    if (!task) throw notFound(execId ? `process ${execId} of task ${id}` : `task ${id}`);
    return task;
  };
  const processOf = (p: FakeProcess) => ({
    containerId: p.config.containerId,
    id: p.config.execId || p.config.containerId,
    pid: p.pid,
    status: p.status,
    stdin: p.config.stdin,
    stdout: p.config.stdout,
    stderr: p.config.stderr,
    terminal: p.config.terminal,
    exitStatus: p.exitStatus,
    exitedAt: p.exitedAt ? timestampFromDate(p.exitedAt) : undefined,
  });
  const newProcess = (
    containerId: string,
    execId: string,
    spec: Any | undefined,
    io: { stdin: string; stdout: string; stderr: string; terminal: boolean },
  ): FakeProcess => {
    const json = (spec ? unpackJson(spec) : {}) as {
      args?: string[];
      env?: string[];
      cwd?: string;
      process?: { args?: string[]; env?: string[]; cwd?: string };
    };
    const process = execId ? json : (json.process ?? {});
    return new FakeProcess({
      containerId,
      execId,
      args: process.args ?? ["true"],
      env: process.env ?? [],
      // The fake runs on the host: the container's cwd may not exist here.
      cwd: "/",
      ...io,
    });
  };
  const onExit = (namespace: string) => (exited: FakeProcess) => {
    publish(namespace, "/tasks/exit", TaskExitSchema, {
      containerId: exited.config.containerId,
      id: exited.config.execId || exited.config.containerId,
      pid: exited.pid,
      exitStatus: exited.exitStatus,
      exitedAt: timestampFromDate(exited.exitedAt ?? new Date()),
    });
  };
  const metrics = (id: string) => ({
    timestamp: timestampFromDate(new Date()),
    id,
    data: pack(V2MetricsSchema, { pids: { current: 1n, limit: 100n }, memory: { usage: 4096n } }),
  });
  const requireInstance = (namespace: string, id: string): SandboxState => {
    const instance = instances.get(key(namespace, id));
    if (!instance) throw notFound(`sandbox "${id}"`);
    return instance;
  };

  const server = new GrpcServer();
  server.register(Version, {
    version: (_req, call) => {
      calls.push(`${call.header("containerd-namespace") ?? ""} ${call.path}`);
      return { version: options.version ?? "v0.0.0-fake", revision: "fake" };
    },
  });
  server.register(Introspection, {
    server: (_req, call) => {
      ns(call);
      return { uuid: "fake", pid: BigInt(process.pid) };
    },
  });
  server.register(Namespaces, {
    get: (req, call) => {
      ns(call);
      return { namespace: { name: req.name, labels: namespaces.get(req.name) ?? {} } };
    },
    list: (_req, call) => {
      ns(call);
      return { namespaces: [...namespaces].map(([name, labels]) => ({ name, labels })) };
    },
    create: (req, call) => {
      ns(call);
      const name = req.namespace?.name ?? "";
      if (namespaces.has(name) && name !== call.header("containerd-namespace")) {
        throw alreadyExists(`namespace "${name}"`);
      }
      namespaces.set(name, { ...req.namespace?.labels });
      return { namespace: { name, labels: namespaces.get(name) } };
    },
    update: (req, call) => {
      ns(call);
      const name = req.namespace?.name ?? "";
      const labels = namespaces.get(name);
      if (!labels) throw notFound(`namespace "${name}"`);
      for (const path of req.updateMask?.paths ?? []) {
        const k = path.slice("labels.".length);
        const v = req.namespace?.labels[k];
        if (v === undefined || v === "") delete labels[k];
        else labels[k] = v;
      }
      return { namespace: { name, labels } };
    },
    delete: (req, call) => {
      ns(call);
      if (!namespaces.delete(req.name)) throw notFound(`namespace "${req.name}"`);
      return {};
    },
  });
  server.register(Store, {
    create: (req, call) => {
      const namespace = ns(call);
      const s = req.sandbox;
      if (!s?.sandboxId) throw invalidArgument("invalid sandbox ID");
      if (sandboxes.has(key(namespace, s.sandboxId)))
        throw alreadyExists(`sandbox "${s.sandboxId}"`);
      const now = timestampFromDate(new Date());
      const stored = create(SandboxSchema, { ...s, createdAt: now, updatedAt: now });
      sandboxes.set(key(namespace, s.sandboxId), stored);
      return { sandbox: stored };
    },
    get: (req, call) => {
      const s = sandboxes.get(key(ns(call), req.sandboxId));
      if (!s) throw notFound(`sandbox "${req.sandboxId}"`);
      return { sandbox: s };
    },
    list: (_req, call) => {
      const prefix = `${ns(call)}/`;
      return { list: [...sandboxes].filter(([k]) => k.startsWith(prefix)).map(([, s]) => s) };
    },
    update: (req, call) => {
      const namespace = ns(call);
      const s = sandboxes.get(key(namespace, req.sandbox?.sandboxId ?? ""));
      if (!s || !req.sandbox) throw notFound(`sandbox "${req.sandbox?.sandboxId}"`);
      for (const path of req.fields) {
        if (path.startsWith("labels.")) {
          const k = path.slice(7);
          const v = req.sandbox.labels[k];
          if (v === undefined) delete s.labels[k];
          else s.labels[k] = v;
        } else if (path === "spec") s.spec = req.sandbox.spec;
        else if (path === "runtime") s.runtime = req.sandbox.runtime;
        else throw invalidArgument(`cannot update ${JSON.stringify(path)} field`);
      }
      s.updatedAt = timestampFromDate(new Date());
      return { sandbox: s };
    },
    delete: (req, call) => {
      if (!sandboxes.delete(key(ns(call), req.sandboxId)))
        throw notFound(`sandbox "${req.sandboxId}"`);
      return {};
    },
  });
  server.register(Controller, {
    create: (req, call) => {
      const namespace = ns(call);
      if (!req.sandboxer) throw invalidArgument("sandbox controller name can not be empty");
      if (!sandboxes.has(key(namespace, req.sandboxId)))
        throw notFound(`sandbox "${req.sandboxId}"`);
      let exit!: () => void;
      const exited = new Promise<void>((resolve) => (exit = resolve));
      instances.set(key(namespace, req.sandboxId), {
        state: "SANDBOX_NOTREADY",
        pid: 0,
        createdAt: new Date(),
        exitedAt: undefined,
        exited,
        exit,
      });
      publish(namespace, "/sandboxes/create", SandboxCreateSchema, { sandboxId: req.sandboxId });
      return { sandboxId: req.sandboxId };
    },
    start: (req, call) => {
      const namespace = ns(call);
      const instance = requireInstance(namespace, req.sandboxId);
      instance.state = "SANDBOX_READY";
      instance.pid = process.pid;
      publish(namespace, "/sandboxes/start", SandboxStartSchema, { sandboxId: req.sandboxId });
      return {
        sandboxId: req.sandboxId,
        pid: instance.pid,
        createdAt: timestampFromDate(instance.createdAt),
        address: "ttrpc+unix:///run/fake.sock",
        version: 3,
      };
    },
    status: (req, call) => {
      const instance = requireInstance(ns(call), req.sandboxId);
      return {
        sandboxId: req.sandboxId,
        pid: instance.pid,
        state: instance.state,
        info: Object.fromEntries(req.verbose ? [["fake", "true"]] : []),
        createdAt: timestampFromDate(instance.createdAt),
        exitedAt: instance.exitedAt ? timestampFromDate(instance.exitedAt) : undefined,
      };
    },
    stop: (req, call) => {
      const namespace = ns(call);
      const instance = requireInstance(namespace, req.sandboxId);
      if (instance.state === "SANDBOX_READY") {
        instance.state = "SANDBOX_NOTREADY";
        instance.exitedAt = new Date();
        instance.exit();
        publish(namespace, "/sandboxes/exit", SandboxExitSchema, {
          sandboxId: req.sandboxId,
          exitStatus: 0,
        });
      }
      return {};
    },
    wait: async (req, call) => {
      const instance = requireInstance(ns(call), req.sandboxId);
      await instance.exited;
      return { exitStatus: 0, exitedAt: timestampFromDate(instance.exitedAt ?? new Date()) };
    },
    shutdown: (req, call) => {
      const namespace = ns(call);
      requireInstance(namespace, req.sandboxId).exit();
      instances.delete(key(namespace, req.sandboxId));
      return {};
    },
    metrics: (req, call) => {
      requireInstance(ns(call), req.sandboxId);
      return { metrics: metrics(req.sandboxId) };
    },
    platform: (req, call) => {
      requireInstance(ns(call), req.sandboxId);
      return { platform: { os: "linux", architecture: "amd64" } };
    },
  });
  server.register(Containers, {
    create: (req, call) => {
      const namespace = ns(call);
      const c = req.container;
      if (!c?.id) throw invalidArgument("container id is required");
      if (!c.runtime?.name) throw invalidArgument(`container "${c.id}": runtime name is required`);
      if (!c.spec) throw invalidArgument(`container "${c.id}": spec is required`);
      if (containers.has(key(namespace, c.id))) throw alreadyExists(`container "${c.id}"`);
      const now = timestampFromDate(new Date());
      const stored = create(ContainerSchema, { ...c, createdAt: now, updatedAt: now });
      containers.set(key(namespace, c.id), stored);
      return { container: stored };
    },
    get: (req, call) => {
      const c = containers.get(key(ns(call), req.id));
      if (!c) throw notFound(`container "${req.id}"`);
      return { container: c };
    },
    list: (_req, call) => {
      const prefix = `${ns(call)}/`;
      return {
        containers: [...containers].filter(([k]) => k.startsWith(prefix)).map(([, c]) => c),
      };
    },
    update: (req, call) => {
      const c = containers.get(key(ns(call), req.container?.id ?? ""));
      if (!c || !req.container) throw notFound(`container "${req.container?.id}"`);
      for (const path of req.updateMask?.paths ?? []) {
        if (path.startsWith("labels.")) {
          const k = path.slice(7);
          const v = req.container.labels[k];
          if (v === undefined) delete c.labels[k];
          else c.labels[k] = v;
        } else if (path === "spec") c.spec = req.container.spec;
        else if (path === "image") c.image = req.container.image;
        else throw invalidArgument(`cannot update ${JSON.stringify(path)} field`);
      }
      return { container: c };
    },
    delete: (req, call) => {
      const namespace = ns(call);
      if (tasks.has(key(namespace, req.id)))
        throw failedPrecondition(`container "${req.id}" has a task`);
      if (!containers.delete(key(namespace, req.id))) throw notFound(`container "${req.id}"`);
      return {};
    },
  });
  server.register(Tasks, {
    create: async (req, call) => {
      const namespace = ns(call);
      const c = containers.get(key(namespace, req.containerId));
      if (!c) throw notFound(`container "${req.containerId}"`);
      if (tasks.has(key(namespace, req.containerId)))
        throw alreadyExists(`task ${req.containerId}`);
      const p = newProcess(req.containerId, "", c.spec, req);
      tasks.set(key(namespace, req.containerId), p);
      const pid = await p.create(onExit(namespace));
      return { containerId: req.containerId, pid };
    },
    start: (req, call) => {
      const namespace = ns(call);
      const pid = getTask(namespace, req.containerId, req.execId).start();
      if (!req.execId)
        publish(namespace, "/tasks/start", TaskStartSchema, { containerId: req.containerId, pid });
      return { pid };
    },
    wait: async (req, call) => {
      const p = getTask(ns(call), req.containerId, req.execId);
      // Like a shim: a wait before start waits for the start and then the exit.
      await p.wait();
      return { exitStatus: p.exitStatus, exitedAt: timestampFromDate(p.exitedAt ?? new Date()) };
    },
    get: (req, call) => ({ process: processOf(getTask(ns(call), req.containerId, req.execId)) }),
    list: (_req, call) => {
      const prefix = `${ns(call)}/`;
      return {
        tasks: [...tasks]
          .filter(([k, p]) => k.startsWith(prefix) && !p.config.execId)
          .map(([, p]) => processOf(p)),
      };
    },
    kill: (req, call) => {
      getTask(ns(call), req.containerId, req.execId).kill(req.signal);
      return {};
    },
    pause: (req, call) => {
      getTask(ns(call), req.containerId).pause();
      return {};
    },
    resume: (req, call) => {
      getTask(ns(call), req.containerId).resume();
      return {};
    },
    listPids: (req, call) => ({ processes: [{ pid: getTask(ns(call), req.containerId).pid }] }),
    metrics: (req, call) => {
      const namespace = ns(call);
      const ids = req.filters.map((f) => f.replace(/^id==/, ""));
      return { metrics: ids.filter((id) => tasks.has(key(namespace, id))).map(metrics) };
    },
    resizePty: (req, call) => {
      getTask(ns(call), req.containerId, req.execId);
      return {};
    },
    closeIO: (req, call) => {
      const p = getTask(ns(call), req.containerId, req.execId);
      if (req.stdin) p.closeStdin();
      return {};
    },
    exec: async (req, call) => {
      const namespace = ns(call);
      getTask(namespace, req.containerId);
      const k = key(namespace, `${req.containerId}/${req.execId}`);
      if (tasks.has(k)) throw alreadyExists(`exec ${req.execId}`);
      const p = newProcess(req.containerId, req.execId, req.spec, req);
      tasks.set(k, p);
      await p.create(onExit(namespace));
      return {};
    },
    delete: async (req, call) => {
      const namespace = ns(call);
      const p = getTask(namespace, req.containerId);
      if (p.status !== Status.STOPPED && p.status !== Status.CREATED) {
        throw failedPrecondition(`task ${req.containerId} is still running`);
      }
      if (p.status === Status.CREATED) {
        p.kill(9);
        await p.wait();
      }
      tasks.delete(key(namespace, req.containerId));
      return {
        id: req.containerId,
        pid: p.pid,
        exitStatus: p.exitStatus,
        exitedAt: p.exitedAt ? timestampFromDate(p.exitedAt) : undefined,
      };
    },
    deleteProcess: (req, call) => {
      const namespace = ns(call);
      const p = getTask(namespace, req.containerId, req.execId);
      tasks.delete(key(namespace, `${req.containerId}/${req.execId}`));
      return { id: req.execId, pid: p.pid, exitStatus: p.exitStatus };
    },
  });
  server.register(Events, {
    subscribe: (req, call) => subscribe(bus, req.filters, call.signal),
  });
  await server.listenUnix(address, 0o600);

  return {
    address,
    calls,
    failNext(method: string, error: Error): void {
      failures.set(method, error);
    },
    async close(): Promise<void> {
      for (const p of tasks.values()) p.kill(9);
      server.forceShutdown();
      await Promise.all([...tasks.values()].filter((p) => p.pid).map((p) => p.wait()));
    },
  };
}

async function* subscribe(
  bus: EventEmitter,
  filters: string[],
  signal: AbortSignal,
): AsyncIterable<Envelope> {
  // Only the forms tests use: `field==value` terms, comma = AND, filters ORed.
  const match = (e: Envelope): boolean =>
    filters.length === 0 ||
    filters.some((f) =>
      f.split(",").every((term) => {
        const [field, raw = ""] = term.split("==");
        const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
        return (
          (field === "namespace" ? e.namespace : field === "topic" ? e.topic : undefined) === value
        );
      }),
    );
  try {
    for await (const [envelope] of on(bus, "event", { signal }) as AsyncIterable<[Envelope]>) {
      if (match(envelope)) yield envelope;
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  }
}
