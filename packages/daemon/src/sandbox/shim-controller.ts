/**
 * The `shim` sandbox controller (containerd plugins/sandbox/controller.go):
 * one runtime v2 shim binary per sandbox, started exactly as for a task
 * (bundle under `<state>/io.containerd.sandbox.controller.v1.shim/<ns>/<id>`,
 * the sandbox spec as config.json, runtime options on stdin, TTRPC_ADDRESS
 * and the other variables), then driven through its ttrpc
 * `containerd.runtime.sandbox.v1.Sandbox` service. The bundle's
 * `bootstrap.json` and `shim-binary-path` are what a restarted daemon
 * reconnects from. A shim that stops answering is reconnected on the next
 * call (a domain sandboxer behind the shim comes back after a restart).
 *
 * A shim that prints a bare address says nothing about its task API version
 * (containerd assumes 2); the controller asks the address whether it serves
 * `containerd.task.v3.Task` and records 3 if so, so its containers are served
 * there directly instead of by a shim each.
 */
import {
  isDeadlineExceeded,
  isNotFound,
  isNotImplemented,
  isUnavailable,
  messageOf,
} from "@sandboxd/errdefs";
import {
  Kind,
  invalidArgument,
  notFound,
  alreadyExists,
  unavailable,
  wrapAs,
} from "@sandboxd/errdefs";
import {
  NamespacedMap,
  Rollback,
  namespaceRequired,
  notFoundText,
  withLogFields,
  withNamespace,
  type Ctx,
} from "@sandboxd/core";
import { ServiceName } from "@sandboxd/api";
import { Sandbox as SandboxService } from "@sandboxd/api/runtime/sandbox/v1/sandbox_pb";
import { Task } from "@sandboxd/api/runtime/task/v2/shim_pb";
import type { Metric } from "@sandboxd/api/types/metrics_pb";
import type { TypedClient } from "@sandboxd/ttrpc";
import type { Sandbox } from "../metadata/types.js";
import type { BinaryShimHandle, BinaryShims } from "../runtime/binary-shim.js";
import { unresolvedRuntime } from "../runtime/binary-shim.js";
import { readBootstrap, writeBootstrap, type BootstrapInfo } from "../runtime/bootstrap.js";
import {
  bundleDirs,
  createBundle,
  deleteBundle,
  listBundles,
  type Bundle,
  type BundleDirs,
} from "../runtime/bundle.js";
import { endpointOf } from "../runtime/sandbox-task.js";
import type { TaskConnection } from "../runtime/task-client.js";
import { callOptions } from "../runtime/task.js";
import type {
  CreateOptions,
  ExitStatus,
  Platform,
  SandboxController,
  StartResult,
  StatusResult,
} from "./controller.js";

/** containerd's plugin id for this controller, used as the bundle directory name. */
const shimControllerPluginId = "io.containerd.sandbox.controller.v1.shim";

type SandboxApi = TypedClient<typeof SandboxService>;

interface Entry {
  readonly bundle: Bundle;
  bootstrap: BootstrapInfo;
  handle: BinaryShimHandle | undefined;
  /** Why the shim cannot be reached (when `handle` is gone or closed). */
  reason: string;
  connecting: Promise<SandboxApi> | undefined;
}

export interface ShimControllerOptions {
  root: string;
  state: string;
  binary: BinaryShims;
}

export class ShimController implements SandboxController {
  readonly name = "shim";
  readonly #dirs: BundleDirs;
  readonly #binary: BinaryShims;
  readonly #entries = new NamespacedMap<Entry>();

  constructor(options: ShimControllerOptions) {
    this.#dirs = bundleDirs(options.root, options.state, shimControllerPluginId);
    this.#binary = options.binary;
  }

  async create(ctx: Ctx, sandbox: Sandbox, options: CreateOptions): Promise<void> {
    const ns = namespaceRequired(ctx);
    if (this.#entries.has(ns, sandbox.id))
      throw alreadyExists(`sandbox ${JSON.stringify(sandbox.id)}`);
    const runtime = sandbox.runtime.name;
    if (runtime === "") {
      throw invalidArgument(
        `sandbox ${JSON.stringify(sandbox.id)}: runtime name must be set for the shim sandboxer`,
      );
    }
    this.#resolve(runtime);
    const rollback = new Rollback();
    try {
      const bundle = await createBundle(this.#dirs, ns, sandbox.id, sandbox.spec?.value);
      rollback.push("remove bundle", () => deleteBundle(bundle));
      const handle = await this.#binary.start(ctx, {
        bundle,
        runtime,
        options: sandbox.runtime.options,
      });
      rollback.push("stop shim", async (c) => {
        handle.release();
        await handle.connection.close();
        await this.#binary.delete(c, bundle, handle.binary);
      });
      let bootstrap = handle.bootstrap;
      if (handle.plainOutput && bootstrap.version < 3 && (await servesTaskV3(handle, sandbox.id))) {
        bootstrap = { ...bootstrap, version: 3 };
        await writeBootstrap(bundle, bootstrap);
      }
      const api = handle.connection.service(SandboxService);
      try {
        await api.createSandbox(
          {
            sandboxId: sandbox.id,
            bundlePath: bundle.path,
            rootfs: options.rootfs,
            options: options.options,
            netnsPath: options.netnsPath,
            annotations: options.annotations,
          },
          callOptions(ctx),
        );
      } catch (err) {
        // Let the shim release what it made before its binary's delete runs.
        await api
          .shutdownSandbox({ sandboxId: sandbox.id }, { timeoutMs: 5000 })
          .catch(() => undefined);
        throw err;
      }
      this.#entries.set(ns, sandbox.id, {
        bundle,
        bootstrap,
        handle,
        reason: "",
        connecting: undefined,
      });
      rollback.clear();
    } catch (err) {
      await rollback.run(ctx);
      throw err;
    }
  }

  async start(ctx: Ctx, id: string): Promise<StartResult> {
    const { api, entry } = await this.#api(ctx, id);
    const r = await api.startSandbox({ sandboxId: id }, callOptions(ctx));
    const endpoint = endpointOf(entry.bootstrap);
    return {
      pid: r.pid,
      createdAt: r.createdAt,
      labels: {},
      address: endpoint.address,
      version: endpoint.version,
      spec: r.spec,
    };
  }

  async platform(ctx: Ctx, id: string): Promise<Platform> {
    const { api } = await this.#api(ctx, id);
    const r = await api.platform({ sandboxId: id }, callOptions(ctx));
    return r.platform ?? {};
  }

  async stop(ctx: Ctx, id: string, timeoutSecs: number): Promise<void> {
    if (!this.#entries.has(namespaceRequired(ctx), id)) return;
    try {
      const { api } = await this.#api(ctx, id);
      await api.stopSandbox({ sandboxId: id, timeoutSecs }, callOptions(ctx));
    } catch (err) {
      // containerd: a shim that is gone or does not know the sandbox means it is stopped.
      if (!isNotFound(err) && !isUnavailable(err)) throw err;
    }
  }

  async wait(ctx: Ctx, id: string): Promise<ExitStatus> {
    const { api, entry } = await this.#api(ctx, id);
    const r = await unreachable(entry, api.waitSandbox({ sandboxId: id }, callOptions(ctx)));
    return { exitStatus: r.exitStatus, exitedAt: r.exitedAt };
  }

  async status(ctx: Ctx, id: string, verbose: boolean): Promise<StatusResult> {
    const { api, entry } = await this.#api(ctx, id);
    const r = await unreachable(
      entry,
      api.sandboxStatus({ sandboxId: id, verbose }, callOptions(ctx)),
    );
    const endpoint = endpointOf(entry.bootstrap);
    return {
      pid: r.pid,
      state: r.state,
      info: { ...r.info },
      createdAt: r.createdAt,
      exitedAt: r.exitedAt,
      extra: r.extra,
      address: endpoint.address,
      version: endpoint.version,
    };
  }

  async shutdown(ctx: Ctx, id: string, force: boolean): Promise<void> {
    const ns = namespaceRequired(ctx);
    const entry = this.#entries.get(ns, id);
    if (!entry) return;
    try {
      const { api } = await this.#api(ctx, id);
      await api.shutdownSandbox({ sandboxId: id }, callOptions(ctx));
    } catch (err) {
      if (!isNotFound(err)) {
        if (!isUnavailable(err) || !force) throw err;
        ctx.log.warn({ error: err, sandbox_id: id }, "forced shutdown: the shim cannot be reached");
      }
    }
    this.#entries.delete(ns, id);
    entry.handle?.release();
    await entry.handle?.connection.close();
    await this.#binary.delete(ctx, entry.bundle);
    await deleteBundle(entry.bundle);
  }

  async metrics(ctx: Ctx, id: string): Promise<Metric | undefined> {
    const { api } = await this.#api(ctx, id);
    return (await api.sandboxMetrics({ sandboxId: id }, callOptions(ctx))).metrics;
  }

  /** The shim API has no update: a no-op for a sandbox it runs, as in containerd. */
  update(ctx: Ctx, id: string): Promise<void> {
    if (!this.#entries.has(namespaceRequired(ctx), id)) {
      return Promise.reject(notFound(notFoundText("sandbox", id, " in the shim sandboxer")));
    }
    return Promise.resolve();
  }

  async load(ctx: Ctx): Promise<{ namespace: string; id: string }[]> {
    const found: { namespace: string; id: string }[] = [];
    for (const bundle of await listBundles(this.#dirs)) {
      const c = withLogFields(withNamespace(ctx, bundle.namespace), { sandbox_id: bundle.id });
      const bootstrap = await readBootstrap(bundle).catch(() => undefined);
      if (!bootstrap) {
        // Crashed before the shim answered: nothing was created there.
        c.log.info("removing the bundle of a sandbox shim that never started");
        await this.#binary.delete(c, bundle).catch(() => undefined);
        await deleteBundle(bundle).catch(() => undefined);
        continue;
      }
      const entry: Entry = {
        bundle,
        bootstrap,
        handle: undefined,
        reason: "",
        connecting: undefined,
      };
      this.#entries.set(bundle.namespace, bundle.id, entry);
      found.push({ namespace: bundle.namespace, id: bundle.id });
      try {
        await this.#connect(c, entry);
      } catch (err) {
        c.log.warn({ error: err }, "sandbox shim unreachable after restart");
      }
    }
    return found;
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.#entries.values()].map(async (e) => {
        e.handle?.release();
        await e.handle?.connection.close();
      }),
    );
    this.#entries.clear();
  }

  /** The shim's Sandbox service; reconnects first when the connection was lost. */
  async #api(ctx: Ctx, id: string): Promise<{ api: SandboxApi; entry: Entry }> {
    const entry = this.#entries.get(namespaceRequired(ctx), id);
    if (!entry) throw notFound(notFoundText("sandbox", id, " in the shim sandboxer"));
    if (entry.handle && !entry.handle.connection.closed) {
      return { api: entry.handle.connection.service(SandboxService), entry };
    }
    entry.connecting ??= this.#connect(ctx, entry).finally(() => (entry.connecting = undefined));
    return { api: await entry.connecting, entry };
  }

  async #connect(ctx: Ctx, entry: Entry): Promise<SandboxApi> {
    entry.handle?.release();
    entry.handle = undefined;
    try {
      entry.handle = await this.#binary.load(ctx, entry.bundle, entry.bootstrap);
      entry.reason = "";
      return entry.handle.connection.service(SandboxService);
    } catch (err) {
      entry.reason = messageOf(err);
      throw unavailable(
        `sandbox ${JSON.stringify(entry.bundle.id)}: shim at ${entry.bootstrap.address} unreachable: ${entry.reason}`,
        { cause: err },
      );
    }
  }

  /** The runtime's binary; NotFound naming it when it is not installed. */
  #resolve(runtime: string): void {
    try {
      this.#binary.resolve(runtime);
    } catch (err) {
      const cause = err instanceof Error ? err.cause : err;
      const why = unresolvedRuntime(runtime, cause);
      if (isNotFound(cause)) throw notFound(`sandbox runtime: ${why}`);
      throw invalidArgument(`sandbox runtime: ${why}`);
    }
  }
}

/**
 * A call's Unavailable (the connection dropped under it: "ttrpc: closed")
 * said like a failed connect, naming the sandbox and the shim's address:
 * it becomes the NOTREADY reason.
 */
async function unreachable<T>(entry: Entry, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (!isUnavailable(err)) throw err;
    throw wrapAs(
      Kind.Unavailable,
      err,
      `sandbox ${JSON.stringify(entry.bundle.id)}: shim at ${entry.bootstrap.address} unreachable`,
    );
  }
}

/** Whether the shim's address serves containerd.task.v3.Task (anything but "no such service"). */
async function servesTaskV3(handle: { connection: TaskConnection }, id: string): Promise<boolean> {
  try {
    await handle.connection.service(Task, ServiceName.TaskV3).connect({ id }, { timeoutMs: 2000 });
    return true;
  } catch (err) {
    return !isNotImplemented(err) && !isDeadlineExceeded(err) && !isUnavailable(err);
  }
}
