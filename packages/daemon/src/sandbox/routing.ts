/**
 * Routing: which controller serves a sandbox, and where its containers'
 * tasks go.
 *
 * The controller is the request's `sandboxer`, else the instance's, else the
 * record's, else `[sandbox] default_sandboxer`. A request naming another
 * controller than the one holding the sandbox is InvalidArgument; an unknown
 * name is NotFound naming it (except for an instance whose sandboxer was
 * dropped from the config: it stays reachable by name, for a forced
 * shutdown and a NOTREADY status).
 */
import { failedPrecondition, invalidArgument, notFound } from "@sandboxd/errdefs";
import { namespaceRequired, notFoundText, type Ctx } from "@sandboxd/core";
import type { SandboxStore } from "../metadata/sandboxes.js";
import { InstanceState, type Sandbox, type SandboxInstance } from "../metadata/types.js";
import type { SandboxEndpoints, TaskEndpoint } from "../runtime/shim-manager.js";
import { SandboxState, type SandboxController } from "./controller.js";
import type { Watch } from "./watch.js";

/** What a request, the instance and the record say about the sandboxer. */
export interface Claims {
  id: string;
  /** The request's `sandboxer` ("" for none). */
  requested: string;
  instance?: SandboxInstance | undefined;
  record?: Sandbox | undefined;
}

/**
 * The name of the controller for `claims` (the routing rule above), or the
 * error: InvalidArgument for a mismatch, NotFound for a name not configured
 * (unless an instance holds it).
 */
export function pickSandboxer(
  claims: Claims,
  defaultSandboxer: string,
  configured: readonly string[],
): string {
  const { id, requested, instance, record } = claims;
  const held = instance?.sandboxer || record?.sandboxer || "";
  if (requested !== "" && held !== "" && requested !== held) {
    throw invalidArgument(
      `sandbox ${JSON.stringify(id)} belongs to sandboxer ${JSON.stringify(held)}, not ${JSON.stringify(requested)}`,
    );
  }
  const name = requested || held || defaultSandboxer;
  if (!configured.includes(name) && !instance) throw unknownSandboxer(name, configured);
  return name;
}

function unknownSandboxer(name: string, configured: readonly string[]): Error {
  const known = configured.map((n) => JSON.stringify(n)).join(", ");
  return notFound(`sandboxer ${JSON.stringify(name)} (configured: ${known})`);
}

/** A sandbox's rows and the controller that serves it. */
export interface Resolved {
  record: Sandbox | undefined;
  instance: SandboxInstance | undefined;
  controller: SandboxController;
}

/** The configured controllers, and the routing rule applied to the Store's rows. */
export class Controllers {
  readonly #byName = new Map<string, SandboxController>();
  readonly #store: SandboxStore;
  readonly #default: string;

  constructor(store: SandboxStore, list: readonly SandboxController[], defaultSandboxer: string) {
    this.#store = store;
    this.#default = defaultSandboxer;
    for (const c of list) this.#byName.set(c.name, c);
  }

  get names(): string[] {
    return [...this.#byName.keys()];
  }

  get(name: string): SandboxController | undefined {
    return this.#byName.get(name);
  }

  all(): SandboxController[] {
    return [...this.#byName.values()];
  }

  /** The name only (checks a mismatch; an instance's dropped sandboxer passes). */
  name(claims: Claims): string {
    return pickSandboxer(claims, this.#default, this.names);
  }

  /** The sandbox's rows and its configured controller; NotFound when the record is missing. */
  resolve(ctx: Ctx, id: string, requested: string): Resolved {
    const record = this.#store.find(ctx, id);
    if (!record) this.#store.get(ctx, id); // InvalidArgument for a bad id, NotFound otherwise
    const instance = this.#store.instance(ctx, id);
    const name = this.name({ id, requested, instance, record });
    const controller = this.get(name);
    if (!controller) throw this.unknown(name);
    return { record, instance, controller };
  }

  /** Resolve, requiring an instance (NotFound when the sandbox was never created). */
  resolveInstance(
    ctx: Ctx,
    id: string,
    requested: string,
  ): { instance: SandboxInstance; controller: SandboxController } {
    const { instance, controller } = this.resolve(ctx, id, requested);
    if (!instance) throw notCreated(id);
    return { instance, controller };
  }

  unknown(name: string): Error {
    return unknownSandboxer(name, this.names);
  }
}

/** Status and routing of a Store row no controller created. */
export function notCreated(id: string): Error {
  return notFound(notFoundText("sandbox", id, " has no instance: no controller created it"));
}

export function endpointOf(instance: SandboxInstance): TaskEndpoint | undefined {
  return instance.address ? { address: instance.address, version: instance.version } : undefined;
}

/** Where a sandbox's containers' tasks go (the shim manager asks, before any side effect). */
export class Endpoints implements SandboxEndpoints {
  readonly #store: SandboxStore;
  readonly #watch: Watch;

  constructor(store: SandboxStore, watch: Watch) {
    this.#store = store;
    this.#watch = watch;
  }

  async endpoint(ctx: Ctx, id: string): Promise<TaskEndpoint> {
    const record = this.#store.find(ctx, id);
    if (!record) throw notFound(notFoundText("sandbox", id));
    const instance = this.#store.instance(ctx, id);
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
}
