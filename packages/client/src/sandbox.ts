// Sandboxes: a record in the Store plus a running instance owned by a
// controller (the sandboxer), as in containerd's client/sandbox.go.
import { stillHasContainersText } from "@sandboxd/core/messages";
import type { Any } from "@bufbuild/protobuf/wkt";
import { failedPrecondition, invalidArgument, isNotFound, unavailable } from "@sandboxd/errdefs";
import type { Mount } from "@sandboxd/api/types/mount_pb";
import type { CallOptions } from "./call-options.js";
import type { ExitStatus } from "./convert.js";
import { required, toDate } from "./convert.js";
import type { Container, NewContainerOptions, RuntimeInfo } from "./container.js";
import { createContainer, containerInfoOf, Container as ContainerClass } from "./container.js";
import { DEFAULT_SANDBOX_RUNTIME, DefaultsLabel } from "./defaults.js";
import type { Metrics } from "./metrics.js";
import { decodeMetric } from "./metrics.js";
import type { Spec } from "./oci/types.js";
import type { Session } from "./session.js";
import {
  checkSandboxNetwork,
  podNetworkAnnotation,
  podNetworkConfig,
  type PortMapping,
  type SandboxNetwork,
} from "./sandbox-network.js";
import {
  SandboxState,
  platformOf,
  sandboxInfoOf,
  sandboxInstanceOf,
  sandboxStatusOf,
  specAny,
  type Platform,
  type SandboxInfo,
  type SandboxInstance,
  type SandboxStatus,
} from "./sandbox-convert.js";

export {
  SandboxState,
  sandboxInfoOf,
  type Platform,
  type SandboxInfo,
  type SandboxInstance,
  type SandboxStatus,
} from "./sandbox-convert.js";

/** Options of `client.newSandbox`. */
export interface NewSandboxOptions {
  /** Default `io.containerd.sbx.v1` (sandboxd's sandboxer). */
  runtime?: RuntimeInfo | undefined;
  /** The sandbox spec (an object from `defaultSpec()`, or an Any already packed). */
  spec?: Spec | Any | undefined;
  labels?: Record<string, string> | undefined;
  extensions?: Record<string, Any> | undefined;
  /**
   * The controller: default the namespace's `containerd.io/defaults/sandboxer`
   * label, else none, and sandboxd uses its `[sandbox] default_sandboxer`
   * (`shim` unless configured: sandboxd runs the runtime's shim binary).
   */
  sandboxer?: string | undefined;
  /** Controller.Create extras. */
  rootfs?: Mount[] | undefined;
  options?: Any | undefined;
  netnsPath?: string | undefined;
  annotations?: Record<string, string> | undefined;
  /**
   * `bridge` (default: the sandboxer's CNI network), `host`, or `none` (loopback only).
   * With `network` or `portMappings`, the SDK sends a CRI PodSandboxConfig as Create's
   * `options` (so they cannot be given together).
   */
  network?: SandboxNetwork | undefined;
  /** Host ports forwarded to the sandbox (the sandboxer's CNI portmap). */
  portMappings?: readonly PortMapping[] | undefined;
}

/** Fields of {@link Sandbox.update}; only the ones given are changed. */
export interface SandboxUpdate {
  labels?: Record<string, string>;
  extensions?: Record<string, Any>;
  spec?: Spec | Any;
  runtime?: RuntimeInfo;
}

/** Options of {@link Sandbox.shutdown}. */
export interface ShutdownOptions {
  /**
   * Also delete the sandbox's containers (killing and deleting their tasks).
   * Without it, shutdown refuses while containers remain.
   */
  force?: boolean;
}

/**
 * Store.Create then Controller.Create; the Store record is removed again if
 * the controller fails, so nothing half-made remains.
 */
export async function createSandbox(
  session: Session,
  id: string,
  options: NewSandboxOptions,
  call?: CallOptions,
): Promise<Sandbox> {
  // Empty leaves the choice to the daemon (its configured default).
  const sandboxer =
    options.sandboxer || (await session.defaultLabels(call))[DefaultsLabel.Sandboxer] || "";
  const runtime = options.runtime ?? { name: DEFAULT_SANDBOX_RUNTIME };
  if (!runtime.name) throw invalidArgument(`sandbox "${id}": runtime name is required`);
  const ports = options.portMappings ?? [];
  checkSandboxNetwork(id, options.network, ports);
  const wantsNetwork = options.network !== undefined || ports.length > 0;
  if (wantsNetwork && options.options !== undefined) {
    throw invalidArgument(
      `sandbox "${id}": network and portMappings cannot be given with options (they are sent as options)`,
    );
  }
  const network = options.network ?? "bridge";
  const createOptions = wantsNetwork
    ? podNetworkConfig(id, session.namespace, network, ports)
    : options.options;
  const annotations = {
    ...options.annotations,
    ...(network === "none" ? { [podNetworkAnnotation]: "none" } : {}),
  };
  const message = {
    sandboxId: id,
    runtime: { name: runtime.name, options: runtime.options },
    spec: options.spec ? specAny(options.spec) : undefined,
    labels: options.labels ?? {},
    extensions: options.extensions ?? {},
    sandboxer,
  };
  const created = await session.services.sandboxStore.create(
    { sandbox: message },
    session.call(call),
  );
  const info = sandboxInfoOf(required(created.sandbox, `sandbox "${id}"`, "sandbox"));
  try {
    await session.services.sandboxController.create(
      {
        sandboxId: id,
        rootfs: options.rootfs ?? [],
        options: createOptions,
        netnsPath: options.netnsPath ?? "",
        annotations,
        sandbox: created.sandbox,
        sandboxer,
      },
      session.call(call),
    );
  } catch (err) {
    // Not under the caller's signal: a cancelled create still cleans up.
    await session.services.sandboxStore
      .delete({ sandboxId: id }, session.call({ timeoutMs: 10_000 }))
      .catch(() => undefined);
    throw err;
  }
  return new Sandbox(session, info);
}

/** A sandbox: a pod-like group of containers sharing namespaces and resources. */
export class Sandbox {
  /** The sandbox id. */
  readonly id: string;
  #info: SandboxInfo;
  readonly #session: Session;

  /** @internal use `client.newSandbox()`, `client.loadSandbox()` */
  constructor(session: Session, info: SandboxInfo) {
    this.#session = session;
    this.#info = info;
    this.id = info.id;
  }

  /** The record as last read from (or written to) the Store. */
  get info(): SandboxInfo {
    return this.#info;
  }

  /** The controller that owns this sandbox. */
  get sandboxer(): string {
    return this.#info.sandboxer;
  }

  #controllerRequest(): { sandboxId: string; sandboxer: string } {
    return { sandboxId: this.id, sandboxer: this.#info.sandboxer };
  }

  /** Reads the record again. */
  async refresh(call?: CallOptions): Promise<SandboxInfo> {
    const response = await this.#session.services.sandboxStore.get(
      { sandboxId: this.id },
      this.#session.call(call),
    );
    const sandbox = required(response.sandbox, `sandbox "${this.id}"`, "sandbox");
    return (this.#info = sandboxInfoOf(sandbox));
  }

  /** Starts the sandbox (Controller.Start). */
  async start(call?: CallOptions): Promise<SandboxInstance> {
    const r = await this.#session.services.sandboxController.start(
      this.#controllerRequest(),
      this.#session.call(call),
    );
    return sandboxInstanceOf(r, this.id);
  }

  /** The controller's view of the sandbox. */
  async status(options: { verbose?: boolean } = {}, call?: CallOptions): Promise<SandboxStatus> {
    const r = await this.#session.services.sandboxController.status(
      { ...this.#controllerRequest(), verbose: options.verbose ?? false },
      this.#session.call(call),
    );
    return sandboxStatusOf(r, this.id);
  }

  /** Checks that the sandbox is ready (a Status round trip); throws Unavailable if not. */
  async ping(call?: CallOptions): Promise<void> {
    const { state } = await this.status({}, call);
    if (state !== SandboxState.Ready) {
      throw unavailable(`sandbox "${this.id}" is not ready (state ${JSON.stringify(state)})`);
    }
  }

  /** The sandbox's containers. */
  async containers(call?: CallOptions): Promise<Container[]> {
    const response = await this.#session.services.containers.list(
      { filters: [] },
      this.#session.call(call),
    );
    return response.containers
      .filter((c) => c.sandbox === this.id)
      .map((c) => new ContainerClass(this.#session, containerInfoOf(c)));
  }

  /**
   * Pauses every task of the sandbox's containers (the Controller API has no
   * pause). Containers without a task are skipped.
   */
  async pause(call?: CallOptions): Promise<void> {
    await this.#eachTask(
      (containerId) =>
        this.#session.services.tasks.pause({ containerId }, this.#session.call(call)),
      call,
    );
  }

  /** Resumes every task of the sandbox's containers. */
  async resume(call?: CallOptions): Promise<void> {
    await this.#eachTask(
      (containerId) =>
        this.#session.services.tasks.resume({ containerId }, this.#session.call(call)),
      call,
    );
  }

  async #eachTask(
    action: (containerId: string) => Promise<unknown>,
    call?: CallOptions,
  ): Promise<void> {
    const containers = await this.containers(call);
    await Promise.all(
      containers.map(async (c) => {
        try {
          await action(c.id);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }),
    );
  }

  /** Stops the sandbox; its processes get `timeoutMs` (rounded up to seconds) before being killed. */
  async stop(options: { timeoutMs?: number } = {}, call?: CallOptions): Promise<void> {
    const timeoutSecs = options.timeoutMs === undefined ? 0 : Math.ceil(options.timeoutMs / 1000);
    await this.#session.services.sandboxController.stop(
      { ...this.#controllerRequest(), timeoutSecs },
      this.#session.call(call),
    );
  }

  /** Resolves when the sandbox exits. */
  async wait(call?: CallOptions): Promise<ExitStatus> {
    const r = await this.#session.services.sandboxController.wait(
      this.#controllerRequest(),
      this.#session.call(call),
    );
    return { exitStatus: r.exitStatus, exitedAt: toDate(r.exitedAt) };
  }

  /**
   * Shuts the sandbox down (Controller.Shutdown) and deletes its record.
   * Refuses while containers remain, unless `force`. Idempotent: a sandbox
   * already gone is not an error.
   */
  async shutdown(options: ShutdownOptions = {}, call?: CallOptions): Promise<void> {
    const containers = await this.containers(call);
    if (containers.length > 0) {
      if (!options.force) {
        const ids = containers.map((c) => c.id).join(", ");
        throw failedPrecondition(
          `sandbox "${this.id}" ${stillHasContainersText} (${ids}): delete them first, or force`,
        );
      }
      for (const c of containers) await c.delete({ force: true }, call);
    }
    try {
      await this.#session.services.sandboxController.shutdown(
        this.#controllerRequest(),
        this.#session.call(call),
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    try {
      await this.#session.services.sandboxStore.delete(
        { sandboxId: this.id },
        this.#session.call(call),
      );
    } catch (err) {
      // Already gone is done, like the controller's own Shutdown.
      if (!isNotFound(err)) throw err;
    }
  }

  /** The sandbox's resource usage. */
  async metrics(call?: CallOptions): Promise<Metrics> {
    const r = await this.#session.services.sandboxController.metrics(
      this.#controllerRequest(),
      this.#session.call(call),
    );
    return await decodeMetric(required(r.metrics, `sandbox "${this.id}"`, "metrics"));
  }

  /** The platform the sandbox runs containers for. */
  async platform(call?: CallOptions): Promise<Platform> {
    const r = await this.#session.services.sandboxController.platform(
      this.#controllerRequest(),
      this.#session.call(call),
    );
    return platformOf(r.platform);
  }

  /**
   * Changes the given fields of the record (Store.Update). For `labels` and
   * `extensions`, each key given is set; an empty-string label value removes it.
   */
  async update(fields: SandboxUpdate, call?: CallOptions): Promise<SandboxInfo> {
    const paths: string[] = [];
    if (fields.labels) for (const key of Object.keys(fields.labels)) paths.push(`labels.${key}`);
    if (fields.extensions)
      for (const key of Object.keys(fields.extensions)) paths.push(`extensions.${key}`);
    if (fields.spec) paths.push("spec");
    if (fields.runtime) paths.push("runtime");
    if (paths.length === 0) return this.#info;
    const runtime = fields.runtime ?? this.#info.runtime;
    const response = await this.#session.services.sandboxStore.update(
      {
        sandbox: {
          sandboxId: this.id,
          runtime: { name: runtime.name, options: runtime.options },
          spec: fields.spec ? specAny(fields.spec) : undefined,
          labels: Object.fromEntries(
            Object.entries(fields.labels ?? {}).filter(([, v]) => v !== ""),
          ),
          extensions: fields.extensions ?? {},
          sandboxer: this.#info.sandboxer,
        },
        fields: paths,
      },
      this.#session.call(call),
    );
    const sandbox = required(response.sandbox, `sandbox "${this.id}"`, "sandbox");
    return (this.#info = sandboxInfoOf(sandbox));
  }

  /** Creates a container in this sandbox (runtime defaults to the sandbox's). */
  newContainer(
    id: string,
    options: Omit<NewContainerOptions, "sandbox">,
    call?: CallOptions,
  ): Promise<Container> {
    return createContainer(
      this.#session,
      id,
      { ...options, sandbox: this.id, runtime: options.runtime ?? this.#info.runtime },
      call,
    );
  }
}
