/**
 * The sbx-sandboxer process: takes the instance lock, recovers the state
 * directory, then serves gRPC (Controller) on `listen` and ttrpc (Task v2/v3,
 * Sandbox, the private Sandboxer service) on `task_socket`.
 *
 * The lock is an abstract unix socket named after the state directory: the
 * kernel releases it when the process dies, however it dies, so concurrent
 * starts (two shims at once) leave exactly one sandboxer and a kill -9 leaves
 * no stale lock. Whoever holds it owns the socket files, so stale ones are
 * simply replaced.
 */
import { createHash } from "node:crypto";
import { access, chmod, constants, mkdir, rm } from "node:fs/promises";
import net from "node:net";
import { dirname } from "node:path";
import type { Ctx, Logger } from "@sandboxd/core";
import { CgroupMigrationWarmer, background } from "@sandboxd/core";
import { alreadyExists, failedPrecondition, toStatus } from "@sandboxd/errdefs";
import { GrpcServer, type ServiceImpl } from "@sandboxd/grpc";
import { Controller } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import type { Envelope } from "@sandboxd/api/types/event_pb";
import { Server } from "@sandboxd/ttrpc";
import type { Config } from "./config/config.js";
import type { Env } from "./env.js";
import { Forwarder } from "./events/forwarder.js";
import { EventsRegistry } from "./events/registry.js";
import { Cgroups, detectLayout } from "./pod/cgroups.js";
import { ensurePinRoot } from "./pod/namespaces.js";
import { NetworkPool } from "./pod/network-pool.js";
import type { RecoveryReport } from "./recovery.js";
import { recover } from "./recovery.js";
import { Sandboxer } from "./sandboxer.js";
import { ensureKeeper, keeperBackendSocket } from "./task-keeper.js";
import { controllerService } from "./services/controller-grpc.js";
import { SandboxApi } from "./services/sandbox-api.js";
import { registerSandboxService } from "./services/sandbox-ttrpc.js";
import { registerAdminService } from "./services/shim-admin.js";
import { registerTaskService } from "./services/task-ttrpc.js";
import { cleanStop } from "./clean-stop.js";
import { Layout } from "./state/layout.js";
import { Tasks } from "./tasks.js";

export interface Daemon {
  readonly sandboxer: Sandboxer;
  readonly recovery: RecoveryReport;
  /** The Controller as the gRPC server serves it (sandboxd's in-process mode calls it directly). */
  readonly controller: ServiceImpl<typeof Controller>;
  close(): Promise<void>;
}

export interface DaemonOptions {
  /** Serve the gRPC Controller on `listen` (default true; off when hosted in sandboxd). */
  serveController?: boolean;
  /** Every event as it is published (see ForwarderOptions.local). */
  localEvents?: (envelope: Envelope) => void;
}

/** The abstract socket name that locks `stateDir`. */
function lockName(stateDir: string): string {
  return `\0sbx-sandboxer/${createHash("sha256").update(stateDir).digest("hex").slice(0, 32)}`;
}

async function takeLock(stateDir: string): Promise<net.Server> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "EADDRINUSE"
          ? alreadyExists(`another sbx-sandboxer owns ${stateDir}`)
          : failedPrecondition(`lock ${stateDir}: ${err.message}`),
      ),
    );
    server.listen({ path: lockName(stateDir) }, () => resolve());
  });
  server.unref();
  return server;
}

async function checkBinaries(config: Config): Promise<void> {
  for (const [name, path] of Object.entries({
    runc: config.binaries.runc,
    conmon: config.binaries.conmon,
  })) {
    await access(path, constants.X_OK).catch(() => {
      throw failedPrecondition(
        `${name} binary ${JSON.stringify(path)} is missing (install the Debian package ${name})`,
      );
    });
  }
}

function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

export async function startDaemon(
  config: Config,
  log: Logger,
  options: DaemonOptions = {},
): Promise<Daemon> {
  const root: Ctx = background(log);
  await mkdir(config.stateDir, { recursive: true, mode: 0o711 });
  const lock = await takeLock(config.stateDir);
  try {
    await checkBinaries(config);
    if (config.binaries.start && !(await isExecutable(config.binaries.start))) {
      log.warn(
        { path: config.binaries.start },
        "sbx-start is missing (scripts/setup.sh builds it): containers start with runc start",
      );
      config.binaries.start = "";
    }
    const layout = new Layout(config.stateDir);
    const registry = new EventsRegistry(layout, config.eventsAddress);
    await registry.load();
    const forwarder = new Forwarder({
      log,
      targets: (ns) => registry.targets(ns),
      ...(options.localEvents ? { local: options.localEvents } : {}),
    });
    const env: Env = {
      config,
      layout,
      cgroups: new Cgroups(detectLayout()),
      events: forwarder,
      root,
      networks: new NetworkPool({ config, layout, root }),
      migrations: new CgroupMigrationWarmer({
        onDisabled: (why) => log.info({ why }, "cgroup migrations are not kept warm"),
      }),
    };
    // Per-instance resources exist from the start (not from the first pod), so
    // that what a pod adds is exactly what it must take away.
    await ensurePinRoot(root, layout.pinRoot);
    await env.cgroups.create(config.cgroupParent);
    const sb = new Sandboxer(env);
    const tasks = new Tasks(sb);
    const report = await recover(root, sb);
    log.info({ ...report, cgroup_version: env.cgroups.layout.version }, "state recovered");
    const podNetworks = new Set(
      [...sb.pods.values()].flatMap((p) => (p.rec.network ? [p.rec.network.containerId] : [])),
    );
    await env.networks.recover(root, podNetworks);
    env.networks.fill();

    const api = new SandboxApi(sb);
    const ttrpc = new Server({ errorToStatus: toStatus });
    registerTaskService(ttrpc, root, tasks);
    registerSandboxService(ttrpc, root, api);
    registerAdminService(ttrpc, { root, tasks, events: registry });
    const controller = controllerService(root, api);
    const serveController = options.serveController ?? true;
    // With a keeper, containerd's connections go to it and it relays to a backend socket.
    const taskListen = config.binaries.taskKeeper ? keeperBackendSocket(config) : config.taskSocket;
    for (const socket of serveController ? [taskListen, config.listen] : [taskListen]) {
      await mkdir(dirname(socket), { recursive: true, mode: 0o711 });
      await rm(socket, { force: true });
    }
    await ttrpc.listen(taskListen);
    // Only the node's containerd (root) talks to it, like a shim's socket.
    await chmod(taskListen, 0o600);
    if (config.binaries.taskKeeper) await ensureKeeper(config);
    let grpc: GrpcServer | undefined;
    if (serveController) {
      grpc = new GrpcServer();
      grpc.register(Controller, controller);
      await grpc.listenUnix(config.listen, 0o600);
    }

    const sweep = setInterval(
      () =>
        void sweepMonitors(sb)
          .then(() => tasks.reapForgotten(root))
          .catch((err: unknown) => log.warn({ error: err }, "sweep")),
      config.sweepIntervalMs,
    );
    sweep.unref();
    log.info(
      {
        listen: serveController ? config.listen : "(in process)",
        task_socket: config.taskSocket,
        state_dir: config.stateDir,
      },
      "serving",
    );
    return {
      sandboxer: sb,
      recovery: report,
      controller,
      async close() {
        clearInterval(sweep);
        await Promise.all([ttrpc.close(), grpc?.shutdown(1000)]);
        await forwarder.close();
        await env.networks.close(root);
        await env.migrations.close();
        await cleanStop(root, env, sb.pods.size).catch((err: unknown) => {
          log.warn({ error: err }, "clean stop");
        });
        lock.close();
      },
    };
  } catch (err) {
    lock.close();
    throw err;
  }
}

/** Catches monitors that died without writing an exit file (kill -9 of a conmon). */
async function sweepMonitors(sb: Sandboxer): Promise<void> {
  for (const c of sb.containers.values()) {
    if (c.deleted) continue;
    await c.init.checkMonitor().catch(() => undefined);
    for (const e of c.execs.values()) await e.proc.checkMonitor().catch(() => undefined);
  }
}
