/**
 * The daemon: opens the metadata, rebuilds the task list from the bundles
 * (reconnecting to live shims, cleaning up after dead ones), then serves
 * containerd's gRPC API on the socket (the services are the table in
 * `services.ts`), the ttrpc events service for shims, and metrics.
 *
 * Start-up is reversible: each part registers its closer as soon as it has
 * started. A failed start, and `stop`, run the closers newest first, every
 * one even when another fails, so the database is always closed and the
 * sockets removed. Containers keep running.
 */
import { chmod, chown, mkdir, unlink } from "node:fs/promises";
import type http from "node:http";
import { join } from "node:path";
import { background, mkfifo, Rollback, type Ctx, type Logger } from "@sandboxd/core";
import { GrpcServer } from "@sandboxd/grpc";
import { Server as TtrpcServer } from "@sandboxd/ttrpc";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { toStatus, messageOf } from "@sandboxd/errdefs";
import { sandboxProxyTypes, type Config } from "../config/config.js";
import { Exchange } from "../events/exchange.js";
import { metadataPath, openMetadata, type Metadata } from "../metadata/metadata.js";
import { BinaryShims } from "../runtime/binary-shim.js";
import { bundleDirs } from "../runtime/bundle.js";
import { FifoPool } from "../runtime/shim-log.js";
import { ShimManager } from "../runtime/shim-manager.js";
import { TaskManager } from "../runtime/task-manager.js";
import { EventsLocal } from "../services/events/local.js";
import { TtrpcEvents, ttrpcEventsService } from "../services/events/service.js";
import { IntrospectionLocal } from "../services/introspection/local.js";
import type { VersionInfo } from "../services/version/service.js";
import { openImageStack, startImageHousekeeping } from "../services/images/stack.js";
import type { SandboxController } from "../sandbox/controller.js";
import { SandboxManager } from "../sandbox/manager.js";
import { ProxyController } from "../sandbox/proxy-controller.js";
import { hostSandboxer } from "../sandbox/in-process.js";
import { ShimController } from "../sandbox/shim-controller.js";
import type { Cri } from "@sandboxd/cri";
import { startCri } from "../services/cri.js";
import { callLog } from "./call-log.js";
import { ContainersLocal } from "../services/containers/local.js";
import { SandboxControllerLocal } from "../services/sandbox/controller-local.js";
import { SandboxStoreLocal } from "../services/sandbox/store-local.js";
import { TasksLocal } from "../services/tasks/local.js";
import { Metrics } from "./metrics.js";
import { pluginList } from "./plugins.js";
import { requestContexts, ttrpcContexts } from "./rpc.js";
import { services } from "./services.js";
import { prepareSocket } from "./socket.js";

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
  readonly #closers: Rollback;
  readonly #http: http.Server | undefined;
  /** The drain's grace, read by its closer; set by stop(). */
  readonly #grace: { ms: number };
  #stopping: Promise<void> | undefined;

  private constructor(
    parts: DaemonParts,
    closers: Rollback,
    grace: { ms: number },
    metricsHttp: http.Server | undefined,
  ) {
    this.parts = parts;
    this.#closers = closers;
    this.#grace = grace;
    this.#http = metricsHttp;
  }

  /**
   * Starts every part in order, registering its closer as it goes; when a
   * step fails, what had started is closed (newest first) and the error thrown.
   */
  static async start(options: DaemonOptions): Promise<Daemon> {
    const root = background(options.log);
    const closers = new Rollback();
    const grace = { ms: 3000 };
    try {
      return await Daemon.#assemble(options, root, closers, grace);
    } catch (err) {
      await closers.run(root);
      throw err;
    }
  }

  static async #assemble(
    options: DaemonOptions,
    root: Ctx,
    closers: Rollback,
    grace: { ms: number },
  ): Promise<Daemon> {
    const { config, log } = options;
    await mkdir(config.root, { recursive: true, mode: 0o711 });
    await mkdir(config.state, { recursive: true, mode: 0o711 });
    for (const socket of [config.grpc.address, config.ttrpc.address]) {
      await prepareSocket(socket);
      closers.push(`remove ${socket}`, () => unlink(socket).catch(() => undefined));
    }

    const metadata = openMetadata(metadataPath(config.root));
    closers.push("close the metadata database", () => metadata.db.close());
    const exchange = new Exchange();
    closers.push("end event subscriptions", () => exchange.close());
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
          error: messageOf(err),
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
    closers.push("close shim connections", () => tasks.close());
    exchange.listen((envelope) => tasks.observe(envelope));
    const events = new EventsLocal(exchange, (envelope) => tasks.acceptForward(envelope));
    const hosted = config.sandbox.inProcess.name
      ? await hostSandboxer({
          name: config.sandbox.inProcess.name,
          configPath: config.sandbox.inProcess.config,
          log,
          forward: (envelope) => events.forward(root, { envelope }),
        })
      : undefined;
    if (hosted) closers.push("stop the in-process sandboxer", () => hosted.close());

    const controllers: SandboxController[] = [
      new ShimController({ root: config.root, state: config.state, binary }),
      ...Object.entries(config.proxyPlugins)
        .filter(([, p]) => sandboxProxyTypes.includes(p.type))
        .map(([name, p]) => new ProxyController(name, p.address)),
      ...(hosted ? [hosted.controller] : []),
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
    closers.push("close sandbox controllers", () => sandboxes.close());
    shims.setSandboxEndpoints(sandboxes);

    const { sandboxes: kept, undone } = await sandboxes.load(root);
    if (kept + undone > 0) log.info({ sandboxes: kept, undone }, "sandboxes loaded");
    const loaded = await tasks.load(root);
    if (loaded.live + loaded.dead + loaded.removed > 0) log.info(loaded, "tasks loaded");
    hosted?.openEvents();

    const metrics = taskMetrics(tasks);
    const grpc = new GrpcServer({
      errorToStatus: toStatus,
      onCallDone: callLog(log, metrics),
      // A reply means the call's metadata writes are on disk (the database's group commit).
      beforeReply: () => metadata.db.durable(),
    });
    // Stop accepting, end subscriptions (or they hold the drain), give calls in flight the grace.
    closers.push("drain gRPC calls", async () => {
      exchange.close();
      await grpc.shutdown(grace.ms);
    });
    const images = await openImageStack(config.root, metadata);
    const introspection = await IntrospectionLocal.open(
      config.root,
      pluginList(config, { runtimeRoot: dirs.root, runtimeState: dirs.state }, services),
    );
    const ctxOf = requestContexts(root);
    const deps = {
      metadata,
      exchange,
      tasks,
      sandboxes,
      events,
      introspection,
      images,
      ctxOf,
      config,
    };
    for (const row of services) row.register(grpc, { ...deps, version: options.version });
    // The CRI reaches sandboxes, containers and tasks through the service layer.
    const cri = await startCri({
      config,
      root,
      grpc,
      ctxOf,
      exchange,
      containers: new ContainersLocal({
        store: metadata.containers,
        publisher: exchange,
        hasTask: (ctx, id) => tasks.has(ctx, id),
      }),
      tasks: new TasksLocal(metadata.containers, tasks),
      sandboxStore: new SandboxStoreLocal(metadata.sandboxes, metadata.containers, sandboxes),
      sandboxController: new SandboxControllerLocal(sandboxes),
      images,
      version: options.version.version,
    });
    closers.push("stop the CRI", () => cri.close());
    startImageHousekeeping(root, images);

    const ttrpc = new TtrpcServer({ errorToStatus: toStatus });
    ttrpc.register(TtrpcEvents, ttrpcEventsService(events, ttrpcContexts(root)));
    await ttrpc.listen(config.ttrpc.address);
    closers.push("stop the ttrpc server", () => ttrpc.shutdown({ timeoutMs: 1000 }));
    await chmod(config.ttrpc.address, 0o660);
    await grpc.listenUnix(config.grpc.address, 0o660);
    if (config.grpc.uid !== 0 || config.grpc.gid !== 0) {
      for (const socket of [config.grpc.address, config.ttrpc.address]) {
        await chown(socket, config.grpc.uid, config.grpc.gid);
      }
    }
    if (config.cli.serve) {
      // sbx's commands, run here for sbx-client; the CLI itself loads at the first call.
      const { serveCli } = await import("@sandboxd/cli/serve");
      const cli = await serveCli({
        address: config.grpc.address,
        mode: 0o660,
        uid: config.grpc.uid,
        gid: config.grpc.gid,
        onError: (err) => log.warn({ error: err }, "CLI call failed"),
        makeFifos: async (paths) => {
          for (const path of paths) await mkfifo(path, 0o600);
        },
      });
      closers.push("stop the CLI server", () => cli.close());
    }
    const metricsHttp = config.metrics.address
      ? await metrics.serve(config.metrics.address)
      : undefined;
    if (metricsHttp) {
      closers.push(
        "close the metrics listener",
        () => new Promise<void>((resolve) => metricsHttp.close(() => resolve())),
      );
    }
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
    return new Daemon(parts, closers, grace, metricsHttp);
  }

  /** The metrics listener's `host:port` (with the real port when configured as 0). */
  get metricsAddress(): string | undefined {
    const a = this.#http?.address();
    if (!a || typeof a === "string") return undefined;
    return a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  /**
   * Registers a closer for a part added after start-up; it runs before the
   * parts it may use (closers run newest first).
   */
  onStop(what: string, close: () => unknown): void {
    this.#closers.push(what, close);
  }

  /**
   * Stops accepting calls, ends event subscriptions, gives calls in flight
   * `graceMs` to finish, then closes shim connections (shims keep running),
   * the servers and the database, and removes the sockets: every closer,
   * newest first, even when one fails (the failures are logged and thrown
   * together at the end).
   */
  stop(graceMs = 3000): Promise<void> {
    this.#stopping ??= (async () => {
      this.#grace.ms = graceMs;
      const failed = await this.#closers.run(this.parts.root);
      if (failed) throw failed;
    })();
    return this.#stopping;
  }
}

function taskMetrics(tasks: TaskManager): Metrics {
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
  return metrics;
}
