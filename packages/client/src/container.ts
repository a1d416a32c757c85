// Containers: metadata records (Containers service) and the tasks made from them.
import { cannotDeleteContainerText } from "@sandboxd/core/messages";
import type { Any } from "@bufbuild/protobuf/wkt";
import { isAnyMessage } from "./any.js";
import { failedPrecondition, invalidArgument, isNotFound } from "@sandboxd/errdefs";
import type { Container as ContainerMessage } from "@sandboxd/api/services/containers/v1/containers_pb";
import type { Mount } from "@sandboxd/api/types/mount_pb";
import type { CallOptions } from "./call-options.js";
import { toDate, required } from "./convert.js";
import { DEFAULT_RUNTIME, DefaultsLabel } from "./defaults.js";
import type { IOCreator, Streams, TaskIO } from "./cio/io.js";
import { attachFifos, nullIO } from "./cio/io.js";
import type { Spec } from "./oci/types.js";
import { packSpec, unpackSpec } from "./oci/spec.js";
import type { Session } from "./session.js";
import { stdinCloser } from "./process.js";
import { Task } from "./task.js";
// Loaded by the calls that use an image's snapshot: it brings the image code
// (layer decompression with node:zlib, node:crypto) that listing containers needs not.
import type { ImageProcessOptions } from "./container-image.js";

/** A runtime and its options (containerd's `RuntimeInfo`). */
export interface RuntimeInfo {
  /** e.g. `io.containerd.sbx.v1`, `io.containerd.runc.v2`. */
  name: string;
  /** Runtime options (e.g. `containerd.runc.v1.Options`), packed with `pack`. */
  options?: Any | undefined;
}

/** A container's metadata record. */
export interface ContainerInfo {
  id: string;
  labels: Record<string, string>;
  image: string;
  runtime: RuntimeInfo;
  /** The OCI spec as sent (use `container.spec()` to read it). */
  spec: Any | undefined;
  snapshotter: string;
  snapshotKey: string;
  createdAt: Date | undefined;
  updatedAt: Date | undefined;
  extensions: Record<string, Any>;
  /** The sandbox the container belongs to ("" for none). */
  sandbox: string;
}

/** Options of `client.newContainer` and `sandbox.newContainer`. */
export interface NewContainerOptions {
  /**
   * The OCI spec (an object from `defaultSpec()`, or an Any already packed). Optional
   * with `image`: then made from the image config and `process`.
   */
  spec?: Spec | Any | undefined;
  /**
   * The runtime. Default: the sandbox's runtime for a container in a sandbox,
   * else the namespace's `containerd.io/defaults/runtime` label, else
   * `io.containerd.runc.v2`.
   */
  runtime?: RuntimeInfo | undefined;
  labels?: Record<string, string> | undefined;
  /** The sandbox to run in (its tasks are served by the sandbox's runtime). */
  sandbox?: string | undefined;
  extensions?: Record<string, Any> | undefined;
  /**
   * The image the container is made from (a name the daemon has: `client.pull` it first).
   * A snapshot of it is prepared as the root filesystem (key: the container id) unless
   * `snapshot` is false; without a `spec`, the process comes from the image config.
   */
  image?: string | undefined;
  /** Prepare a snapshot of `image` (default: true when `spec` is omitted). */
  snapshot?: boolean | undefined;
  /** With an image and no spec: a command, entrypoint, env, cwd or uid[:gid] of one's own. */
  process?: ImageProcessOptions | undefined;
}

/** Fields of {@link Container.update}; only the ones given are changed. */
export interface ContainerUpdate {
  labels?: Record<string, string>;
  spec?: Spec | Any;
  extensions?: Record<string, Any>;
  image?: string;
}

/** Options of {@link Container.newTask}. */
export interface NewTaskOptions {
  /** The task's IO (default: none, i.e. /dev/null): `stdio()`, `capture()`, `withStreams()`. */
  io?: IOCreator | undefined;
  /**
   * Mounts that make up the root filesystem (default: the container's snapshot's, if it
   * has one; none with a rootfs directory in the spec).
   */
  rootfs?: Mount[] | undefined;
  /** Task options for the runtime. */
  options?: Any | undefined;
  /** A runtime binary to use instead of the container's runtime name. */
  runtimePath?: string | undefined;
}

/** Options of {@link Container.delete}. */
export interface DeleteContainerOptions {
  /** Delete the container's task too (killing it if it runs) instead of refusing. */
  force?: boolean;
}

export function containerInfoOf(c: ContainerMessage): ContainerInfo {
  return {
    id: c.id,
    labels: { ...c.labels },
    image: c.image,
    runtime: { name: c.runtime?.name ?? "", options: c.runtime?.options },
    spec: c.spec,
    snapshotter: c.snapshotter,
    snapshotKey: c.snapshotKey,
    createdAt: toDate(c.createdAt),
    updatedAt: toDate(c.updatedAt),
    extensions: { ...c.extensions },
    sandbox: c.sandbox,
  };
}

function specAny(spec: Spec | Any): Any {
  return isAnyMessage(spec) ? spec : packSpec(spec);
}

/** Creates a container record (`client.newContainer`). */
export async function createContainer(
  session: Session,
  id: string,
  options: NewContainerOptions,
  call?: CallOptions,
): Promise<Container> {
  const { image } = options;
  if (options.spec === undefined && !image)
    throw invalidArgument(`container "${id}": a spec or an image is required`);
  const snapshot = options.snapshot ?? options.spec === undefined;
  if (snapshot && !image) throw invalidArgument(`container "${id}": a snapshot needs an image`);
  const runtime = options.runtime ?? (await defaultRuntime(session, options.sandbox, call));
  const prepared =
    snapshot && image
      ? await (
          await import("./container-image.js")
        ).prepareImageSnapshot(
          session,
          id,
          image,
          options.spec === undefined,
          options.process,
          call,
        )
      : undefined;
  let container: ContainerMessage;
  try {
    const spec = options.spec ?? prepared?.spec;
    if (spec === undefined) throw invalidArgument(`container "${id}": spec is required`);
    const response = await session.services.containers.create(
      {
        container: {
          id,
          labels: options.labels ?? {},
          image: image ?? "",
          runtime: { name: runtime.name, options: runtime.options },
          spec: specAny(spec),
          snapshotter: prepared?.snapshotter ?? "",
          snapshotKey: prepared?.key ?? "",
          extensions: options.extensions ?? {},
          sandbox: options.sandbox ?? "",
        },
      },
      session.call(call),
    );
    container = required(response.container, `container "${id}"`, "container");
  } catch (err) {
    await prepared?.remove().catch(() => undefined);
    throw err;
  }
  // The container record holds the snapshot from now on.
  await prepared?.release();
  return new Container(session, containerInfoOf(container));
}

async function defaultRuntime(
  session: Session,
  sandbox: string | undefined,
  call?: CallOptions,
): Promise<RuntimeInfo> {
  if (sandbox) {
    const response = await session.services.sandboxStore.get(
      { sandboxId: sandbox },
      session.call(call),
    );
    const runtime = response.sandbox?.runtime;
    if (runtime?.name) return { name: runtime.name, options: runtime.options };
  }
  const labels = await session.defaultLabels(call);
  return { name: labels[DefaultsLabel.Runtime] || DEFAULT_RUNTIME };
}

/** A container: metadata, and the task that runs it. */
export class Container {
  /** The container id. */
  readonly id: string;
  #info: ContainerInfo;
  readonly #session: Session;

  /** @internal use `client.newContainer()`, `client.loadContainer()` */
  constructor(session: Session, info: ContainerInfo) {
    this.#session = session;
    this.#info = info;
    this.id = info.id;
  }

  /** The record as last read from (or written to) the daemon. */
  get info(): ContainerInfo {
    return this.#info;
  }

  /** The sandbox this container belongs to ("" for none). */
  get sandbox(): string {
    return this.#info.sandbox;
  }

  /** Reads the record again. */
  async refresh(call?: CallOptions): Promise<ContainerInfo> {
    const response = await this.#session.services.containers.get(
      { id: this.id },
      this.#session.call(call),
    );
    const container = required(response.container, `container "${this.id}"`, "container");
    return (this.#info = containerInfoOf(container));
  }

  /** The OCI spec. */
  async spec(call?: CallOptions): Promise<Spec> {
    const { spec } = await this.refresh(call);
    if (!spec) throw failedPrecondition(`container "${this.id}" has no spec`);
    return unpackSpec(spec);
  }

  /**
   * Changes the given fields. For `labels` and `extensions`, each key given is
   * set; an empty-string label value removes the label.
   */
  async update(fields: ContainerUpdate, call?: CallOptions): Promise<ContainerInfo> {
    const paths: string[] = [];
    if (fields.labels) for (const key of Object.keys(fields.labels)) paths.push(`labels.${key}`);
    if (fields.extensions)
      for (const key of Object.keys(fields.extensions)) paths.push(`extensions.${key}`);
    if (fields.spec) paths.push("spec");
    if (fields.image !== undefined) paths.push("image");
    if (paths.length === 0) return this.#info;
    const labels = Object.fromEntries(
      Object.entries(fields.labels ?? {}).filter(([, v]) => v !== ""),
    );
    const response = await this.#session.services.containers.update(
      {
        container: {
          id: this.id,
          labels,
          image: fields.image ?? "",
          runtime: { name: this.#info.runtime.name },
          spec: fields.spec ? specAny(fields.spec) : undefined,
          extensions: fields.extensions ?? {},
        },
        updateMask: { paths },
      },
      this.#session.call(call),
    );
    const container = required(response.container, `container "${this.id}"`, "container");
    return (this.#info = containerInfoOf(container));
  }

  /** Creates the container's task (not started). */
  async newTask(options: NewTaskOptions = {}, call?: CallOptions): Promise<Task> {
    const { snapshotter, snapshotKey } = this.#info;
    const rootfs =
      options.rootfs ??
      (snapshotKey
        ? await (
            await import("./container-image.js")
          ).snapshotMounts(this.#session, snapshotter, snapshotKey, call)
        : []);
    const io = await (options.io ?? nullIO()).create(this.id);
    let pid: number;
    try {
      const response = await this.#session.services.tasks.create(
        {
          containerId: this.id,
          rootfs,
          stdin: io.config.stdin,
          stdout: io.config.stdout,
          stderr: io.config.stderr,
          terminal: io.config.terminal,
          options: options.options,
          runtimePath: options.runtimePath ?? "",
        },
        this.#session.call(call),
      );
      pid = response.pid;
    } catch (err) {
      await io.close();
      throw err;
    }
    io.started(stdinCloser(this.#session, this.id, ""));
    return new Task(this.#session, this.id, pid, io);
  }

  /**
   * The container's existing task. With `attach`, the given streams are
   * connected to the task's FIFOs (when it was created with some).
   */
  async task(options: { attach?: Streams } = {}, call?: CallOptions): Promise<Task> {
    const response = await this.#session.services.tasks.get(
      { containerId: this.id },
      this.#session.call(call),
    );
    const process = required(response.process, `task "${this.id}"`, "process");
    let io: TaskIO | undefined;
    if (options.attach) {
      if (process.stdout === "" && process.stdin === "") {
        throw failedPrecondition(
          `task "${this.id}" was created without IO: there is nothing to attach to`,
        );
      }
      io = await attachFifos(
        {
          stdin: process.stdin,
          stdout: process.stdout,
          stderr: process.stderr,
          terminal: process.terminal,
        },
        options.attach,
        stdinCloser(this.#session, this.id, ""),
      );
    }
    return new Task(this.#session, this.id, process.pid, io);
  }

  /**
   * Deletes the container and its snapshot. Refuses while it has a task, unless
   * `force`, which kills and deletes the task first.
   */
  async delete(options: DeleteContainerOptions = {}, call?: CallOptions): Promise<void> {
    let task: Task | undefined;
    try {
      task = await this.task({}, call);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (task) {
      if (!options.force) {
        throw failedPrecondition(
          `${cannotDeleteContainerText} "${this.id}": it has a task (delete the task first, or force)`,
        );
      }
      await task.delete({ force: true }, call);
    }
    await this.#session.services.containers.delete({ id: this.id }, this.#session.call(call));
    const { snapshotter, snapshotKey } = this.#info;
    if (snapshotKey) {
      const { removeContainerSnapshot } = await import("./container-image.js");
      await removeContainerSnapshot(this.#session, snapshotter, snapshotKey, call);
    }
  }
}
