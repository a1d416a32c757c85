/**
 * The Sandbox API's controller side (containerd's sandbox-controllers gRPC
 * service plus what CRI does around it): which controller serves a sandbox,
 * the instance's life (recorded in `sandbox_instances` before and after each
 * controller call, so a crash in between is undone at the next start),
 * `/sandboxes/create|start` events, the endpoint containers' tasks are routed
 * to, forced shutdowns, and picking everything up again after a restart.
 *
 * The controller is the request's `sandboxer`, else the instance's, else the
 * record's, else `[sandbox] default_sandboxer`. A request naming another
 * controller than the one holding the instance is InvalidArgument; an
 * unknown name is NotFound naming it.
 */
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from "@sandboxd/errdefs";
import {
  namespaceRequired,
  stillHasContainersText,
  withLogFields,
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
import { InstanceState, type Sandbox, type SandboxInstance } from "../metadata/types.js";
import type { SandboxEndpoints, TaskEndpoint } from "../runtime/shim-manager.js";
import type { TaskManager } from "../runtime/task-manager.js";
import {
  SandboxState,
  type CreateOptions,
  type ExitStatus,
  type Platform,
  type SandboxController,
  type StartResult,
  type StatusResult,
} from "./controller.js";
import { Watch } from "./watch.js";

export interface SandboxManagerOptions {
  store: SandboxStore;
  containers: ContainerStore;
  tasks: TaskManager;
  publisher: Publisher;
  controllers: readonly SandboxController[];
  defaultSandboxer: string;
  /** The daemon's root context: monitors and refreshes derive from it. */
  root: Ctx;
}

const noCreateOptions: CreateOptions = { rootfs: [], netnsPath: "", annotations: {} };

export class SandboxManager implements SandboxEndpoints {
  readonly #o: SandboxManagerOptions;
  readonly #controllers = new Map<string, SandboxController>();
  readonly #watch: Watch;

  constructor(options: SandboxManagerOptions) {
    this.#o = options;
    for (const c of options.controllers) this.#controllers.set(c.name, c);
    this.#watch = new Watch({
      root: options.root,
      publisher: options.publisher,
      controller: (name) => this.#controllers.get(name),
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
  }

  get sandboxers(): string[] {
    return [...this.#controllers.keys()];
  }

  async create(ctx: Ctx, id: string, requested: string, options: CreateOptions): Promise<void> {
    const { record, instance, controller } = this.#resolve(ctx, id, requested);
    if (!record) throw notFound(`sandbox ${JSON.stringify(id)}`);
    if (instance) {
      throw alreadyExists(
        `sandbox ${JSON.stringify(id)} already has an instance in sandboxer ${JSON.stringify(instance.sandboxer)}`,
      );
    }
    await this.#createInstance(ctx, record, controller, options);
  }

  /** Starts the sandbox; one that is in the Store but was never created is created first. */
  async start(ctx: Ctx, id: string, requested: string): Promise<StartResult> {
    const { record, instance, controller } = this.#resolve(ctx, id, requested);
    if (!record) throw notFound(`sandbox ${JSON.stringify(id)}`);
    let implicit = false;
    if (!instance) {
      await this.#createInstance(ctx, record, controller, noCreateOptions);
      implicit = true;
    } else if (instance.state === InstanceState.Creating) {
      throw failedPrecondition(`sandbox ${JSON.stringify(id)} is still being created`);
    }
    let started: StartResult;
    try {
      started = await controller.start(ctx, id);
    } catch (err) {
      if (implicit) await this.#undoCreate(ctx, id, controller);
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
    void this.#watch.arm(live, true);
    publishEvent(this.#o.publisher, ctx, Topic.SandboxStart, SandboxStartSchema, {
      sandboxId: id,
    });
    return started;
  }

  async platform(ctx: Ctx, id: string, requested: string): Promise<Platform> {
    const { controller } = this.#instanceOf(ctx, id, requested);
    return controller.platform(ctx, id);
  }

  /** Stops the sandbox; nothing to do (success) when it has no instance. */
  async stop(ctx: Ctx, id: string, requested: string, timeoutSecs: number): Promise<void> {
    const { instance, controller } = this.#resolve(ctx, id, requested);
    if (!instance) return;
    await controller.stop(ctx, id, timeoutSecs);
  }

  async wait(ctx: Ctx, id: string, requested: string): Promise<ExitStatus> {
    const { instance, controller } = this.#instanceOf(ctx, id, requested);
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
      this.#resolve(ctx, id, requested);
      throw notCreated(id);
    }
    // Only checks the name: a sandboxer no longer configured gives NOTREADY with the reason.
    this.#resolveName(ctx, id, requested, record, instance);
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
    const record = this.#o.store.find(ctx, id);
    const instance = this.#o.store.instance(ctx, id);
    if (!record && !instance) {
      this.#resolveName(ctx, id, requested, undefined, undefined);
      return;
    }
    const name = this.#resolveName(ctx, id, requested, record, instance);
    const controller = this.#controllers.get(name);
    if (!controller && !(force && instance)) throw this.#unknown(name);
    const containers = this.#o.containers.inSandbox(ctx, id);
    if (containers.length > 0) {
      if (!force) {
        throw failedPrecondition(
          `sandbox ${JSON.stringify(id)} ${stillHasContainersText} ${containers.map((c) => JSON.stringify(c)).join(", ")}: delete them first, or shut down with the "sandboxd-force: true" header`,
        );
      }
      for (const c of containers) await this.#removeContainer(ctx, c);
    }
    if (instance) {
      if (controller) await controller.shutdown(ctx, id, force);
      else
        ctx.log.warn(
          { sandbox_id: id, sandboxer: name },
          "forced shutdown: sandboxer not configured",
        );
      this.#watch.forget(namespaceRequired(ctx), id);
      this.#o.store.deleteInstance(ctx, id);
    }
  }

  async metrics(ctx: Ctx, id: string, requested: string): Promise<Metric | undefined> {
    const { controller } = this.#instanceOf(ctx, id, requested);
    return controller.metrics(ctx, id);
  }

  async update(
    ctx: Ctx,
    id: string,
    requested: string,
    sandbox: Sandbox,
    fields: readonly string[],
  ): Promise<void> {
    const { controller } = this.#instanceOf(ctx, id, requested);
    await controller.update(ctx, id, sandbox, fields);
  }

  // ---- routing (SandboxEndpoints) ----

  async endpoint(ctx: Ctx, id: string): Promise<TaskEndpoint> {
    const record = this.#o.store.find(ctx, id);
    if (!record) throw notFound(`sandbox ${JSON.stringify(id)}`);
    const instance = this.#o.store.instance(ctx, id);
    const notReady = (why: string): Error =>
      failedPrecondition(`sandbox ${JSON.stringify(id)} is not ready: ${why}`);
    if (!instance) throw notReady("it was never started");
    if (instance.state !== InstanceState.Started) throw notReady("created but not started");
    const live = this.#watch.track(
      namespaceRequired(ctx),
      id,
      instance.sandboxer,
      endpointOf(instance),
    );
    const s = await this.#watch.status(ctx, live, false);
    if (s.state !== SandboxState.Ready) {
      throw notReady(`${s.state}${s.info.reason ? ` (${s.info.reason})` : ""}`);
    }
    if (s.address === "") {
      throw notReady(`sandboxer ${JSON.stringify(instance.sandboxer)} reported no task address`);
    }
    return { address: s.address, version: s.version };
  }

  knownEndpoint(namespace: string, id: string): TaskEndpoint | undefined {
    return this.#watch.get(namespace, id)?.endpoint;
  }

  // ---- restart ----

  /**
   * After a restart: controllers reconnect to what they left running, every
   * instance gets its status asked again and its exit monitor re-armed (in
   * the background: an unreachable sandboxer is retried with backoff),
   * creates interrupted by a crash are undone, shim sandboxes with no
   * instance record are shut down.
   */
  async load(ctx: Ctx): Promise<{ sandboxes: number; undone: number }> {
    const counts = { sandboxes: 0, undone: 0 };
    const found = new Set<string>();
    for (const controller of this.#controllers.values()) {
      for (const f of await controller.load(ctx))
        found.add(`${controller.name}/${f.namespace}/${f.id}`);
    }
    for (const instance of this.#o.store.allInstances()) {
      const c = withLogFields(withNamespace(ctx, instance.namespace), {
        sandbox_id: instance.id,
        sandboxer: instance.sandboxer,
      });
      found.delete(`${instance.sandboxer}/${instance.namespace}/${instance.id}`);
      if (instance.state === InstanceState.Creating) {
        counts.undone++;
        const controller = this.#controllers.get(instance.sandboxer);
        void (controller ? this.#undoCreate(c, instance.id, controller) : Promise.resolve());
        continue;
      }
      counts.sandboxes++;
      const live = this.#watch.track(
        instance.namespace,
        instance.id,
        instance.sandboxer,
        endpointOf(instance),
      );
      if (instance.state === InstanceState.Started) void this.#watch.arm(live);
      void this.#watch.status(c, live, false).catch((err: unknown) => {
        c.log.warn({ error: err }, "sandbox status after restart");
      });
    }
    for (const orphan of found) {
      const [name = "", namespace = "", id = ""] = orphan.split("/");
      const c = withNamespace(ctx, namespace);
      c.log.warn(
        { sandbox_id: id, sandboxer: name },
        "shutting down a sandbox with no instance record",
      );
      void this.#controllers
        .get(name)
        ?.shutdown(c, id, true)
        .catch((err: unknown) => {
          c.log.warn({ error: err, sandbox_id: id }, "shutting down an orphaned sandbox");
        });
    }
    return counts;
  }

  async close(): Promise<void> {
    this.#watch.close();
    await Promise.all([...this.#controllers.values()].map((c) => c.close()));
  }

  // ---- internals ----

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

  async #undoCreate(ctx: Ctx, id: string, controller: SandboxController): Promise<void> {
    try {
      await controller.shutdown(ctx, id, true);
      this.#watch.forget(namespaceRequired(ctx), id);
      this.#o.store.deleteInstance(ctx, id);
    } catch (err) {
      ctx.log.warn({ error: err, sandbox_id: id }, "undoing a sandbox create failed");
    }
  }

  /** Kills and deletes the container's task, then the container (a forced shutdown). */
  async #removeContainer(ctx: Ctx, id: string): Promise<void> {
    if (this.#o.tasks.has(ctx, id)) await this.#o.tasks.remove(ctx, id);
    await this.#o.tasks.settle();
    this.#o.containers.delete(ctx, id);
    publishEvent(this.#o.publisher, ctx, Topic.ContainerDelete, ContainerDeleteSchema, { id });
  }

  #resolve(
    ctx: Ctx,
    id: string,
    requested: string,
  ): {
    record: Sandbox | undefined;
    instance: SandboxInstance | undefined;
    controller: SandboxController;
  } {
    const record = this.#o.store.find(ctx, id);
    if (!record) this.#o.store.get(ctx, id); // InvalidArgument for a bad id, NotFound otherwise
    const instance = this.#o.store.instance(ctx, id);
    const name = this.#resolveName(ctx, id, requested, record, instance);
    const controller = this.#controllers.get(name);
    if (!controller) throw this.#unknown(name);
    return { record, instance, controller };
  }

  /** Resolve, requiring an instance (NotFound when the sandbox was never created). */
  #instanceOf(
    ctx: Ctx,
    id: string,
    requested: string,
  ): { instance: SandboxInstance; controller: SandboxController } {
    const { instance, controller } = this.#resolve(ctx, id, requested);
    if (!instance) {
      throw notFound(`sandbox ${JSON.stringify(id)} has no instance (it was never created)`);
    }
    return { instance, controller };
  }

  #resolveName(
    _ctx: Ctx,
    id: string,
    requested: string,
    record: Sandbox | undefined,
    instance: SandboxInstance | undefined,
  ): string {
    const held = instance?.sandboxer || record?.sandboxer || "";
    if (requested !== "" && held !== "" && requested !== held) {
      throw invalidArgument(
        `sandbox ${JSON.stringify(id)} belongs to sandboxer ${JSON.stringify(held)}, not ${JSON.stringify(requested)}`,
      );
    }
    const name = requested || held || this.#o.defaultSandboxer;
    if (!this.#controllers.has(name) && !instance) throw this.#unknown(name);
    return name;
  }

  #unknown(name: string): Error {
    const known = this.sandboxers.map((n) => JSON.stringify(n)).join(", ");
    return notFound(`sandboxer ${JSON.stringify(name)} (configured: ${known})`);
  }
}

function notCreated(id: string): Error {
  return notFound(`sandbox ${JSON.stringify(id)} has no instance: no controller created it`);
}

function endpointOf(instance: SandboxInstance): TaskEndpoint | undefined {
  return instance.address ? { address: instance.address, version: instance.version } : undefined;
}
