/**
 * The daemon: opens the metadata, rebuilds the task list from the bundles
 * (reconnecting to live shims, cleaning up after dead ones), then serves
 * containerd's gRPC API on the socket, the ttrpc events service for shims,
 * and metrics. `stop` stops accepting, lets calls in flight finish, closes
 * the database, and leaves every container running.
 */
import { chmod, chown, mkdir, unlink } from "node:fs/promises";
import type http from "node:http";
import { join } from "node:path";
import { background, type Ctx, type Logger } from "@sandboxd/core";
import { GrpcServer } from "@sandboxd/grpc";
import { Server as TtrpcServer } from "@sandboxd/ttrpc";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { toStatus, Code } from "@sandboxd/errdefs";
import { sandboxProxyTypes, type Config } from "../config/config.js";
import { Exchange } from "../events/exchange.js";
import { metadataPath, openMetadata, type Metadata } from "../metadata/metadata.js";
import { BinaryShims } from "../runtime/binary-shim.js";
import { bundleDirs } from "../runtime/bundle.js";
import { FifoPool } from "../runtime/shim-log.js";
import { ShimManager } from "../runtime/shim-manager.js";
import { TaskManager } from "../runtime/task-manager.js";
import { ContainersLocal } from "../services/containers/local.js";
import { Containers, containersService } from "../services/containers/service.js";
import { EventsLocal } from "../services/events/local.js";
import {
  Events,
  TtrpcEvents,
  eventsService,
  ttrpcEventsService,
} from "../services/events/service.js";
import { IntrospectionLocal } from "../services/introspection/local.js";
import { Introspection, introspectionService } from "../services/introspection/service.js";
import { LeasesLocal } from "../services/leases/local.js";
import { Leases, leasesService } from "../services/leases/service.js";
import { openImageStack, registerImageServices } from "../services/images/stack.js";
import { registerPullService } from "../services/pull/register.js";
import { NamespacesLocal } from "../services/namespaces/local.js";
import { Namespaces, namespacesService } from "../services/namespaces/service.js";
import { TasksLocal } from "../services/tasks/local.js";
import { Tasks, tasksService } from "../services/tasks/service.js";
import { SandboxControllerLocal } from "../services/sandbox/controller-local.js";
import {
  Controller as SandboxControllerService,
  Store as SandboxStoreService,
  sandboxControllerService,
  sandboxStoreService,
} from "../services/sandbox/service.js";
import { SandboxStoreLocal } from "../services/sandbox/store-local.js";
import type { SandboxController } from "../sandbox/controller.js";
import { SandboxManager } from "../sandbox/manager.js";
import { ProxyController } from "../sandbox/proxy-controller.js";
import { ShimController } from "../sandbox/shim-controller.js";
import type { Cri } from "@sandboxd/cri";
import { startCri } from "../services/cri.js";
import { Version, versionService, type VersionInfo } from "../services/version/service.js";
import { codeNameOf } from "./codes.js";
import { Metrics } from "./metrics.js";
import { pluginList } from "./plugins.js";
import { requestContexts } from "./rpc.js";
import { prepareSocket } from "./socket.js";
import { ttrpcContexts } from "./ttrpc.js";

export interface DaemonOptions {
  config: Config;
  log: Logger;
  /** The sandboxd executable, given to shims as `-publish-binary`. */
  publishBinary: string;
  /** Where to look for shim binaries after PATH. */
  shimDirs: readonly string[];
  version: VersionInfo;
}

/** The parts of a running daemon other components (the Sandbox API) plug into. */
export interface DaemonParts {
  readonly root: Ctx;
  readonly metadata: Metadata;
  readonly exchange: Exchange;
  readonly shims: ShimManager;
  readonly tasks: TaskManager;
  readonly sandboxes: SandboxManager;
  readonly grpc: GrpcServer;
  readonly metrics: Metrics;
  /** The Kubernetes CRI (runtime.v1) served on the same socket. */
  readonly cri: Cri;
}

/** The runtime ctr and the Go client use when none is named. */
export const defaultRuntime = "io.containerd.runc.v2";

const statusNames: Record<number, string> = {
  [Status.UNKNOWN]: "unknown",
  [Status.CREATED]: "created",
  [Status.RUNNING]: "running",
  [Status.STOPPED]: "stopped",
  [Status.PAUSED]: "paused",
  [Status.PAUSING]: "pausing",
};

export class Daemon {
  readonly parts: DaemonParts;
  readonly #config: Config;
  readonly #ttrpc: TtrpcServer;
  readonly #http: http.Server | undefined;

  private constructor(
    parts: DaemonParts,
    config: Config,
    ttrpc: TtrpcServer,
    metricsHttp: http.Server | undefined,
  ) {
    this.parts = parts;
    this.#config = config;
    this.#ttrpc = ttrpc;
    this.#http = metricsHttp;
  }

  static async start(options: DaemonOptions): Promise<Daemon> {
    const { config, log } = options;
    const root = background(log);
    await mkdir(config.root, { recursive: true, mode: 0o711 });
    await mkdir(config.state, { recursive: true, mode: 0o711 });
    await prepareSocket(config.grpc.address);
    await prepareSocket(config.ttrpc.address);

    const metadata = openMetadata(metadataPath(config.root));
    try {
      return await Daemon.#assemble(options, root, metadata);
    } catch (err) {
      metadata.db.close();
      throw err;
    }
  }

  static async #assemble(options: DaemonOptions, root: Ctx, metadata: Metadata): Promise<Daemon> {
    const { config, log } = options;
    const exchange = new Exchange();
    const dirs = bundleDirs(config.root, config.state);
    const fifoPool = new FifoPool(join(dirs.state, ".fifos"));
    await fifoPool.init();
    const binary = new BinaryShims({
      fifoPool,
      grpcAddress: config.grpc.address,
      ttrpcAddress: config.ttrpc.address,
      publishBinary: options.publishBinary,
      extraDirs: options.shimDirs,
      debug: config.debug.level === "debug" || config.debug.level === "trace",
      log,
    });
    try {
      binary.resolve(defaultRuntime);
    } catch (err) {
      log.warn(
        {
          runtime: defaultRuntime,
          error: (err as Error).message,
          path: process.env.PATH,
          extra_dirs: options.shimDirs,
        },
        `the default runtime ${defaultRuntime} is not installed: tasks of containers using it will fail to start (install containerd-shim-runc-v2 on PATH or in SANDBOXD_BIN_DIR)`,
      );
    }
    const shims = new ShimManager(binary);
    const tasks = new TaskManager({
      dirs,
      shims,
      publisher: exchange,
      containerExists: (ctx, id) => metadata.containers.has(ctx, id),
      root,
    });
    exchange.listen((envelope) => tasks.observe(envelope));

    const controllers: SandboxController[] = [
      new ShimController({ root: config.root, state: config.state, binary }),
      ...Object.entries(config.proxyPlugins)
        .filter(([, p]) => sandboxProxyTypes.includes(p.type))
        .map(([name, p]) => new ProxyController(name, p.address)),
    ];
    const sandboxes = new SandboxManager({
      store: metadata.sandboxes,
      containers: metadata.containers,
      tasks,
      publisher: exchange,
      controllers,
      defaultSandboxer: config.sandbox.defaultSandboxer,
      root,
    });
    shims.setSandboxEndpoints(sandboxes);

    try {
      const sandboxesLoaded = await sandboxes.load(root);
      if (sandboxesLoaded.sandboxes + sandboxesLoaded.undone > 0)
        log.info(sandboxesLoaded, "sandboxes loaded");
      const loaded = await tasks.load(root);
      if (loaded.live + loaded.dead + loaded.removed > 0) log.info(loaded, "tasks loaded");
    } catch (err) {
      await sandboxes.close();
      throw err;
    }

    const metrics = new Metrics();
    metrics.gauge(
      "sandboxd_tasks",
      "Tasks known to the daemon by the status of their init process.",
      () => {
        const counts: Record<string, number> = {
          created: 0,
          running: 0,
          stopped: 0,
          paused: 0,
          unknown: 0,
        };
        for (const t of tasks.all()) {
          const name = statusNames[t.status] ?? "unknown";
          counts[name] = (counts[name] ?? 0) + 1;
        }
        return counts;
      },
      "state",
    );

    const grpc = new GrpcServer({
      errorToStatus: toStatus,
      onCallDone: ({ path, code, durationMs, error }) => {
        metrics.rpc(path, code, durationMs);
        if (error === undefined) {
          if (log.isLevelEnabled("debug"))
            log.debug({ method: path, duration_ms: durationMs }, "rpc");
        } else if (code === Code.Unknown || code === Code.Internal) {
          log.error({ method: path, code: codeNameOf(code), error }, "rpc failed");
        } else if (log.isLevelEnabled("debug")) {
          log.debug(
            { method: path, code: codeNameOf(code), error: (error as Error).message },
            "rpc failed",
          );
        }
      },
    });
    const ctxOf = requestContexts(root);
    const imageStack = await openImageStack(config.root, metadata);
    const events = new EventsLocal(exchange, (envelope) => tasks.acceptForward(envelope));
    const introspection = await IntrospectionLocal.open(
      config.root,
      pluginList(config, { runtimeRoot: dirs.root, runtimeState: dirs.state }),
    );
    const containersLocal = new ContainersLocal({
      store: metadata.containers,
      publisher: exchange,
      hasTask: (ctx, id) => tasks.has(ctx, id),
    });
    const tasksLocal = new TasksLocal(metadata.containers, tasks);
    const storeLocal = new SandboxStoreLocal(metadata.sandboxes, metadata.containers, sandboxes);
    const controllerLocal = new SandboxControllerLocal(sandboxes);
    grpc
      .register(Version, versionService(options.version))
      .register(Introspection, introspectionService(introspection, ctxOf))
      .register(
        Namespaces,
        namespacesService(new NamespacesLocal(metadata.namespaces, exchange), ctxOf),
      )
      .register(Containers, containersService(containersLocal, ctxOf))
      .register(Tasks, tasksService(tasksLocal, ctxOf))
      .register(Events, eventsService(events, ctxOf))
      .register(
        Leases,
        leasesService(new LeasesLocal(metadata.leases, (ctx) => imageStack.gc.collect(ctx)), ctxOf),
      )
      .register(SandboxStoreService, sandboxStoreService(storeLocal, ctxOf))
      .register(SandboxControllerService, sandboxControllerService(controllerLocal, ctxOf));
    const cri = await startCri({
      config,
      root,
      grpc,
      ctxOf,
      exchange,
      containers: containersLocal,
      tasks: tasksLocal,
      sandboxStore: storeLocal,
      sandboxController: controllerLocal,
      version: options.version.version,
    });

    registerImageServices(grpc, imageStack, ctxOf);
    registerPullService(grpc, imageStack, ctxOf);

    const ttrpc = new TtrpcServer({ errorToStatus: toStatus });
    ttrpc.register(TtrpcEvents, ttrpcEventsService(events, ttrpcContexts(root)));
    await ttrpc.listen(config.ttrpc.address);
    await chmod(config.ttrpc.address, 0o660);
    await grpc.listenUnix(config.grpc.address, 0o660);
    if (config.grpc.uid !== 0 || config.grpc.gid !== 0) {
      for (const socket of [config.grpc.address, config.ttrpc.address]) {
        await chown(socket, config.grpc.uid, config.grpc.gid);
      }
    }
    const metricsHttp = config.metrics.address
      ? await metrics.serve(config.metrics.address)
      : undefined;
    const parts: DaemonParts = {
      root,
      metadata,
      exchange,
      shims,
      tasks,
      sandboxes,
      grpc,
      metrics,
      cri,
    };
    return new Daemon(parts, config, ttrpc, metricsHttp);
  }

  /** The metrics listener's `host:port` (with the real port when configured as 0). */
  get metricsAddress(): string | undefined {
    const a = this.#http?.address();
    if (!a || typeof a === "string") return undefined;
    return a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  /**
   * Stops accepting calls, ends event subscriptions, gives calls in flight
   * `graceMs` to finish, then closes shim connections (shims keep running),
   * the servers and the database.
   */
  async stop(graceMs = 3000): Promise<void> {
    const { grpc, exchange, tasks, sandboxes, metadata } = this.parts;
    exchange.close();
    const drained = grpc.shutdown(graceMs);
    await drained;
    await this.parts.cri.close();
    await sandboxes.close();
    await tasks.close();
    await this.#ttrpc.shutdown({ timeoutMs: 1000 });
    await new Promise<void>((resolve) =>
      this.#http ? this.#http.close(() => resolve()) : resolve(),
    );
    metadata.db.close();
    await Promise.all(
      [this.#config.grpc.address, this.#config.ttrpc.address].map((p) =>
        unlink(p).catch(() => undefined),
      ),
    );
  }
}
