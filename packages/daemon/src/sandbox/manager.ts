/**
 * The Sandbox API's controller side (containerd's sandbox-controllers gRPC
 * service plus what CRI does around it): the instance's life (recorded in
 * `sandbox_instances` before and after each controller call, so a crash in
 * between is undone at the next start), `/sandboxes/create|start` events,
 * forced shutdowns. Which controller serves a sandbox and where its tasks go
 * is `routing.ts`; picking everything up after a restart is `restart.ts`.
 *
 * Each sandbox's controller calls that change it (Create, Start, Stop,
 * Shutdown, Update, and the undo of an interrupted create) run one at a time,
 * under a per-sandbox lock: a Shutdown never races a Start into writing back
 * the instance row it just deleted. Status, Wait, Platform and Metrics read
 * and take no lock (a Wait lasts as long as the sandbox).
 */
import {
  alreadyExists,
  failedPrecondition,
  isCanceled,
  isDeadlineExceeded,
  isUnavailable,
  isUnknown,
} from "@sandboxd/errdefs";
import {
  KeyedMutex,
  namespaceRequired,
  namespacedKey,
  sleep,
  withNamespace,
  type Ctx,
} from "@sandboxd/core";
import { Topic } from "@sandboxd/api";
import { SandboxCreateSchema, SandboxStartSchema } from "@sandboxd/api/events/sandbox_pb";
import { ContainerDeleteSchema } from "@sandboxd/api/events/container_pb";
import type { Metric } from "@sandboxd/api/types/metrics_pb";
import { publishEvent, type Publisher } from "../events/exchange.js";
import type { ContainerStore } from "../metadata/containers.js";
import type { SandboxStore } from "../metadata/sandboxes.js";
import { InstanceState, type Sandbox } from "../metadata/types.js";
import type { SandboxEndpoints, TaskEndpoint } from "../runtime/shim-manager.js";
import type { TaskManager } from "../runtime/task-manager.js";
import type {
  CreateOptions,
  ExitStatus,
  Platform,
  SandboxController,
  StartResult,
  StatusResult,
} from "./controller.js";
import { recover, type Recovered } from "./restart.js";
import { Controllers, Endpoints, endpointOf, notCreated } from "./routing.js";
import { Watch } from "./watch.js";

export interface SandboxManagerOptions {
  store: SandboxStore;
  containers: ContainerStore;
  /** What a forced shutdown needs of the task runtime. */
  tasks: Pick<TaskManager, "has" | "remove" | "settle">;
  publisher: Publisher;
  controllers: readonly SandboxController[];
  defaultSandboxer: string;
  /** The daemon's root context: monitors and refreshes derive from it. */
  root: Ctx;
}

const noCreateOptions: CreateOptions = { rootfs: [], netnsPath: "", annotations: {} };

export class SandboxManager implements SandboxEndpoints {
  readonly #o: SandboxManagerOptions;
  readonly #controllers: Controllers;
  readonly #watch: Watch;
  readonly #endpoints: Endpoints;
  readonly #lock = new KeyedMutex();
  /** Ends the background undos of lost creates at close(). */
  readonly #closing = new AbortController();
  readonly #lostUndos = new Set<Promise<void>>();

  constructor(options: SandboxManagerOptions) {
    this.#o = options;
    const controllers = new Controllers(
      options.store,
      options.controllers,
      options.defaultSandboxer,
    );
    this.#controllers = controllers;
    this.#watch = new Watch({
      root: options.root,
      publisher: options.publisher,
      controller: (name) => controllers.get(name),
      onEndpoint: (live) => {
        if (!live.endpoint) return;
        const ctx = withNamespace(options.root, live.namespace);
        try {
          options.store.setEndpoint(ctx, live.id, live.endpoint.address, live.endpoint.version);
        } catch (err) {
          ctx.log.warn({ error: err, sandbox_id: live.id }, "recording the sandbox endpoint");
        }
      },
    });
    this.#endpoints = new Endpoints(options.store, this.#watch);
  }

  get sandboxers(): string[] {
    return this.#controllers.names;
  }

  async create(ctx: Ctx, id: string, requested: string, options: CreateOptions): Promise<void> {
    await this.#locked(ctx, id, async () => {
      const { record, instance, controller } = this.#controllers.resolve(ctx, id, requested);
      if (!record) throw notCreated(id);
      if (instance && instance.state !== InstanceState.Creating) {
        throw alreadyExists(
          `sandbox ${JSON.stringify(id)} already has an instance in sandboxer ${JSON.stringify(instance.sandboxer)}`,
        );
      }
      if (instance) await this.#undoCreate(ctx, id, controller, true);
      await this.#createInstance(ctx, record, controller, options);
    });
  }

  /** Starts the sandbox; one that is in the Store but was never created is created first. */
  async start(ctx: Ctx, id: string, requested: string): Promise<StartResult> {
    return await this.#locked(ctx, id, async () => {
      const { record, instance, controller } = this.#controllers.resolve(ctx, id, requested);
      if (!record) throw notCreated(id);
      // Under the lock, a row still `creating` is a create a crash interrupted: undone first.
      if (instance?.state === InstanceState.Creating) {
        await this.#undoCreate(ctx, id, controller, true);
      }
      const implicit = !instance || instance.state === InstanceState.Creating;
      if (implicit) await this.#createInstance(ctx, record, controller, noCreateOptions);
      let started: StartResult;
      try {
        started = await controller.start(ctx, id);
      } catch (err) {
        if (implicit) await this.#undoCreate(ctx, id, controller, false);
        throw err;
      }
      const endpoint = started.address
        ? { address: started.address, version: started.version }
        : undefined;
      this.#o.store.putInstance(ctx, id, {
        sandboxer: controller.name,
        state: InstanceState.Started,
        address: endpoint?.address,
        version: endpoint?.version,
      });
      const live = this.#watch.track(namespaceRequired(ctx), id, controller.name, endpoint);
      live.unreachable = "";
      this.#watch.rearm(live);
      publishEvent(this.#o.publisher, ctx, Topic.SandboxStart, SandboxStartSchema, {
        sandboxId: id,
      });
      return started;
    });
  }

  async platform(ctx: Ctx, id: string, requested: string): Promise<Platform> {
    const { controller } = this.#controllers.resolveInstance(ctx, id, requested);
    return controller.platform(ctx, id);
  }

  /** Stops the sandbox; nothing to do (success) when it has no instance. */
  async stop(ctx: Ctx, id: string, requested: string, timeoutSecs: number): Promise<void> {
    await this.#locked(ctx, id, async () => {
      const { instance, controller } = this.#controllers.resolve(ctx, id, requested);
      if (!instance) return;
      await controller.stop(ctx, id, timeoutSecs);
    });
  }

  async wait(ctx: Ctx, id: string, requested: string): Promise<ExitStatus> {
    const { instance, controller } = this.#controllers.resolveInstance(ctx, id, requested);
    const live = this.#watch.track(
      namespaceRequired(ctx),
      id,
      controller.name,
      endpointOf(instance),
    );
    return this.#watch.wait(ctx, live);
  }

  /**
   * The controller's status, with the task endpoint filled in. A sandbox
   * whose controller cannot be reached is SANDBOX_NOTREADY with
   * `info.reason`. A Store row with no instance (no controller created it, or
   * its create was undone after a crash) is NotFound, as containerd's
   * controllers answer for a sandbox they never created; so is an instance
   * still being created that its controller does not know yet.
   */
  async status(ctx: Ctx, id: string, requested: string, verbose: boolean): Promise<StatusResult> {
    const ns = namespaceRequired(ctx);
    const record = this.#o.store.find(ctx, id);
    if (!record) this.#o.store.get(ctx, id); // InvalidArgument or NotFound, as for any call
    const instance = this.#o.store.instance(ctx, id);
    if (!instance) {
      this.#controllers.resolve(ctx, id, requested);
      throw notCreated(id);
    }
    // Only checks the name: a sandboxer no longer configured gives NOTREADY with the reason.
    this.#controllers.name({ id, requested, record, instance });
    const live = this.#watch.track(ns, id, instance.sandboxer, endpointOf(instance));
    const { status, unknown } = await this.#watch.query(ctx, live, verbose);
    if (unknown && instance.state === InstanceState.Creating) throw notCreated(id);
    return status;
  }

  /**
   * Shuts the sandbox down and forgets its instance; success when there is
   * nothing left. Refused while containers name the sandbox, unless `force`:
   * then their tasks are killed and deleted and the containers removed first,
   * so nothing is left behind (a peer that cannot be reached does not stop
   * the daemon's own clean-up).
   */
  async shutdown(ctx: Ctx, id: string, requested: string, force: boolean): Promise<void> {
    await this.#locked(ctx, id, async () => {
      const record = this.#o.store.find(ctx, id);
      const instance = this.#o.store.instance(ctx, id);
      const name = this.#controllers.name({ id, requested, record, instance });
      if (!record && !instance) return;
      const controller = this.#controllers.get(name);
      if (!controller && !(force && instance)) throw this.#controllers.unknown(name);
      const containers = this.#o.containers.inSandbox(ctx, id);
      if (containers.length > 0) {
        if (!force) {
          throw failedPrecondition(
            `sandbox ${JSON.stringify(id)} still has containers ${containers.map((c) => JSON.stringify(c)).join(", ")}: delete them first, or shut down with the "sandboxd-force: true" header`,
          );
        }
        for (const c of containers) await this.#removeContainer(ctx, c);
      }
      if (!instance) return;
      if (controller) await controller.shutdown(ctx, id, force);
      else
        ctx.log.warn(
          { sandbox_id: id, sandboxer: name },
          "forced shutdown: sandboxer not configured",
        );
      this.#watch.forget(namespaceRequired(ctx), id);
      this.#o.store.deleteInstance(ctx, id);
    });
  }

  async metrics(ctx: Ctx, id: string, requested: string): Promise<Metric | undefined> {
    const { controller } = this.#controllers.resolveInstance(ctx, id, requested);
    return controller.metrics(ctx, id);
  }

  async update(
    ctx: Ctx,
    id: string,
    requested: string,
    sandbox: Sandbox,
    fields: readonly string[],
  ): Promise<void> {
    await this.#locked(ctx, id, async () => {
      const { controller } = this.#controllers.resolveInstance(ctx, id, requested);
      await controller.update(ctx, id, sandbox, fields);
    });
  }

  // ---- routing (SandboxEndpoints) ----

  endpoint(ctx: Ctx, id: string): Promise<TaskEndpoint> {
    return this.#endpoints.endpoint(ctx, id);
  }

  knownEndpoint(namespace: string, id: string): TaskEndpoint | undefined {
    return this.#endpoints.knownEndpoint(namespace, id);
  }

  // ---- restart ----

  /** After a restart (see `restart.ts`); background work goes on after it returns. */
  load(ctx: Ctx): Promise<Recovered> {
    return recover(ctx, {
      controllers: this.#controllers,
      store: this.#o.store,
      watch: this.#watch,
      undoCreate: (c, id, controller) =>
        this.#locked(c, id, () => this.#undoCreate(c, id, controller, false)),
    });
  }

  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.allSettled(this.#lostUndos);
    this.#watch.close();
    await Promise.all(this.#controllers.all().map((c) => c.close()));
  }

  // ---- internals ----

  #locked<T>(ctx: Ctx, id: string, fn: () => Promise<T>): Promise<T> {
    return this.#lock.run(namespacedKey(namespaceRequired(ctx), id), fn);
  }

  async #createInstance(
    ctx: Ctx,
    record: Sandbox,
    controller: SandboxController,
    options: CreateOptions,
  ): Promise<void> {
    const id = record.id;
    // Recorded first: a crash during the controller's create is undone at the next start.
    this.#o.store.putInstance(ctx, id, {
      sandboxer: controller.name,
      state: InstanceState.Creating,
    });
    try {
      await controller.create(ctx, { ...record, sandboxer: controller.name }, options);
    } catch (err) {
      this.#o.store.deleteInstance(ctx, id);
      if (outcomeUnknown(err)) this.#undoLostCreate(namespaceRequired(ctx), id, controller);
      throw err;
    }
    this.#o.store.putInstance(ctx, id, {
      sandboxer: controller.name,
      state: InstanceState.Created,
    });
    this.#o.store.fillSandboxer(ctx, id, controller.name);
    this.#watch.track(namespaceRequired(ctx), id, controller.name);
    publishEvent(this.#o.publisher, ctx, Topic.SandboxCreate, SandboxCreateSchema, {
      sandboxId: id,
    });
  }

  /**
   * Shuts down a create that did not finish and forgets its instance (the
   * caller holds the lock). `rethrow`: a failure is the caller's error;
   * otherwise it is logged and the row stays `creating` for the next try.
   */
  async #undoCreate(
    ctx: Ctx,
    id: string,
    controller: SandboxController,
    rethrow: boolean,
  ): Promise<void> {
    try {
      await controller.shutdown(ctx, id, true);
      this.#watch.forget(namespaceRequired(ctx), id);
      this.#o.store.deleteInstance(ctx, id);
    } catch (err) {
      if (rethrow) throw err;
      ctx.log.warn({ error: err, sandbox_id: id }, "undoing a sandbox create failed");
    }
  }

  /**
   * A create whose answer was lost (the sandboxer went away mid-call, or the
   * call timed out) may have made the sandbox all the same, and with its
   * instance row gone nothing would ever remove it. It is shut down (forced)
   * in the background, under the sandbox's lock, retried with backoff while
   * the sandboxer is unreachable, until it succeeds, a new create takes the id,
   * sandboxd closes, or ten minutes pass.
   */
  #undoLostCreate(namespace: string, id: string, controller: SandboxController): void {
    const ctx = withNamespace(this.#o.root, namespace);
    const signal = this.#closing.signal;
    const undo = (async (): Promise<void> => {
      const deadline = Date.now() + 10 * 60_000;
      for (let delay = 250; !signal.aborted && Date.now() < deadline;) {
        const done = await this.#locked(ctx, id, async () => {
          if (this.#o.store.instance(ctx, id)) return true;
          await controller.shutdown(ctx, id, true);
          return true;
        }).catch((err: unknown) => {
          ctx.log.debug({ error: err, sandbox_id: id }, "undoing a lost sandbox create");
          return false;
        });
        if (done) return;
        await sleep(delay, signal).catch(() => undefined);
        delay = Math.min(delay * 2, 5000);
      }
      if (!signal.aborted)
        ctx.log.warn({ sandbox_id: id }, "gave up undoing a lost sandbox create");
    })();
    this.#lostUndos.add(undo);
    void undo.finally(() => this.#lostUndos.delete(undo));
  }

  /** Kills and deletes the container's task, then the container (a forced shutdown). */
  async #removeContainer(ctx: Ctx, id: string): Promise<void> {
    if (this.#o.tasks.has(ctx, id)) await this.#o.tasks.remove(ctx, id);
    await this.#o.tasks.settle();
    this.#o.containers.delete(ctx, id);
    publishEvent(this.#o.publisher, ctx, Topic.ContainerDelete, ContainerDeleteSchema, { id });
  }
}

/** A failure after which the controller may or may not have done the call. */
function outcomeUnknown(err: unknown): boolean {
  return isUnavailable(err) || isDeadlineExceeded(err) || isCanceled(err) || isUnknown(err);
}
