// The entry point: a connection to sandboxd (or containerd) seen through a
// namespace, like containerd's client.New + WithDefaultNamespace.
import { required } from "./convert.js";
import { Channel } from "@sandboxd/grpc";
import { invalidArgument, isNotFound } from "@sandboxd/errdefs";
import type { CallOptions } from "./call-options.js";
import type { Container, ContainerInfo, NewContainerOptions } from "./container.js";
import { Container as ContainerClass, containerInfoOf, createContainer } from "./container.js";
import { DEFAULT_ADDRESS, DEFAULT_NAMESPACE } from "./defaults.js";
import type { Envelope } from "./events.js";
import { decodeEnvelope } from "./events.js";
// The image code (pulls, archives, records, rootfs preparation, with node:crypto) is
// loaded by the methods that use it: a command that does not touch images (`sbx
// sandbox ls`) should not pay for it at start-up (docs/benchmarks-startup.md).
import type { PullOptions, PulledImage } from "./images.js";
import type { ImageRootfs } from "./images-rootfs.js";
import type { ImageInfo } from "./images-records.js";
import type { ExportImageOptions, ImportImageOptions } from "./images-archive.js";
import { NamespaceService } from "./namespaces.js";
import type { ProcessState } from "./process.js";
import { processStateOf } from "./process.js";
import type { NewSandboxOptions } from "./sandbox.js";
import { Sandbox, createSandbox, sandboxInfoOf } from "./sandbox.js";
import { Services, Session } from "./session.js";

/** Options of {@link Client.connect}. */
export interface ConnectOptions {
  /**
   * The daemon's socket: a path or `unix://` address (default: `$SANDBOXD_ADDRESS`,
   * else `/run/sandboxd/sandboxd.sock`, as for `sbx`).
   */
  address?: string | undefined;
  /** The namespace of every call (default `default`). */
  namespace?: string | undefined;
}

/** What the daemon says it is. */
export interface VersionInfo {
  version: string;
  revision: string;
}

/** Options of {@link Client.subscribe}. */
export interface SubscribeOptions {
  /** Ends the stream. */
  signal?: AbortSignal | undefined;
}

/** Validates a name the way containerd does (namespaces, ids). */
const identifier = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

/**
 * A client of sandboxd's gRPC API (containerd-compatible), bound to one
 * namespace. Make one with {@link Client.connect}; `withNamespace` gives views
 * of the same connection.
 *
 * @example
 * const client = await Client.connect({ namespace: "demo" });
 * console.log(await client.version());
 * client.close();
 */
export class Client {
  /** The daemon's address. */
  readonly address: string;
  /** The namespace of this view. */
  readonly namespace: string;
  /** Namespaces (create, list, get, label, delete). */
  readonly namespaces: NamespaceService;
  readonly #session: Session;

  private constructor(session: Session, address: string) {
    this.#session = session;
    this.address = address;
    this.namespace = session.namespace;
    this.namespaces = new NamespaceService(session);
  }

  /**
   * Connects to the daemon. The connection is made lazily: a daemon that is
   * down shows up as an Unavailable error from the first call.
   */
  static connect(options: ConnectOptions = {}): Promise<Client> {
    const address = options.address || process.env.SANDBOXD_ADDRESS || DEFAULT_ADDRESS;
    const namespace = options.namespace || DEFAULT_NAMESPACE;
    checkNamespace(namespace);
    const services = new Services(new Channel(address));
    return Promise.resolve(new Client(new Session(services, namespace), address));
  }

  /** A view of the same connection in another namespace (closing any view closes the connection). */
  withNamespace(namespace: string): Client {
    checkNamespace(namespace);
    return new Client(new Session(this.#session.services, namespace), this.address);
  }

  /** Closes the connection. */
  close(): void {
    this.#session.services.channel.close();
  }

  /** The daemon's version. */
  async version(call?: CallOptions): Promise<VersionInfo> {
    const r = await this.#session.services.version.version({}, this.#session.call(call));
    return { version: r.version, revision: r.revision };
  }

  /** The daemon's identity (Introspection.Server). */
  async server(call?: CallOptions): Promise<{ uuid: string; pid: number }> {
    const r = await this.#session.services.introspection.server({}, this.#session.call(call));
    return { uuid: r.uuid, pid: Number(r.pid) };
  }

  // ---- sandboxes ----

  /**
   * Creates a sandbox: its Store record, then its instance (Controller.Create).
   * Start it with `sandbox.start()`.
   */
  newSandbox(id: string, options: NewSandboxOptions = {}, call?: CallOptions): Promise<Sandbox> {
    return createSandbox(this.#session, id, options, call);
  }

  /**
   * A sandbox by id (Store.Get). Also asks its controller for its status, so a
   * controller that is down fails here; a controller that does not know the
   * sandbox (never started, or gone) is not an error.
   */
  async loadSandbox(id: string, call?: CallOptions): Promise<Sandbox> {
    const r = await this.#session.services.sandboxStore.get(
      { sandboxId: id },
      this.#session.call(call),
    );
    const sandbox = new Sandbox(
      this.#session,
      sandboxInfoOf(required(r.sandbox, `sandbox "${id}"`, "sandbox")),
    );
    try {
      await sandbox.status({}, call);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    return sandbox;
  }

  /** Sandboxes of the namespace, optionally filtered (`labels.app==web`, `id~=^db`). */
  async sandboxes(filters: readonly string[] = [], call?: CallOptions): Promise<Sandbox[]> {
    const r = await this.#session.services.sandboxStore.list(
      { filters: [...filters] },
      this.#session.call(call),
    );
    return r.list.map((s) => new Sandbox(this.#session, sandboxInfoOf(s)));
  }

  // ---- images ----

  /** Pulls an image into the daemon (resolve, fetch, record, unpack), reporting progress. */
  async pull(reference: string, options?: PullOptions): Promise<PulledImage> {
    const { pullImage } = await import("./images.js");
    return pullImage(this.#session, reference, options);
  }

  /**
   * Imports an image archive (OCI layout or `docker save` tar) through the daemon's
   * transfer.v1, unpacking it; returns the names recorded.
   */
  async importImage(
    source: AsyncIterable<Uint8Array>,
    options?: ImportImageOptions,
  ): Promise<string[]> {
    const { importImage } = await import("./images-archive.js");
    return importImage(this.#session, source, options);
  }

  /** The OCI archive (with docker's manifest.json) of the named images, as a byte stream. */
  exportImage(names: readonly string[], options?: ExportImageOptions): AsyncIterable<Uint8Array> {
    const session = this.#session;
    return (async function* () {
      const { exportImage } = await import("./images-archive.js");
      yield* exportImage(session, names, options);
    })();
  }

  /** An image record by its full name (`docker.io/library/busybox:latest`). */
  async getImage(name: string, call?: CallOptions): Promise<ImageInfo> {
    const { getImage } = await import("./images-records.js");
    return getImage(this.#session, name, call);
  }

  /** Image records of the namespace, optionally filtered (`name~=busybox`). */
  async listImages(filters?: readonly string[], call?: CallOptions): Promise<ImageInfo[]> {
    const { listImages } = await import("./images-records.js");
    return listImages(this.#session, filters, call);
  }

  /** Removes an image name (`sync`: collect unreferenced content and snapshots first). */
  async deleteImage(name: string, options?: { sync?: boolean }, call?: CallOptions): Promise<void> {
    const { deleteImage } = await import("./images-records.js");
    return deleteImage(this.#session, name, options, call);
  }

  /** Gives an image a second name. */
  async tagImage(source: string, target: string, call?: CallOptions): Promise<ImageInfo> {
    const { tagImage } = await import("./images-records.js");
    return tagImage(this.#session, source, target, call);
  }

  /** Prepares snapshot `key` on an image's layers: its mounts (a task's rootfs) and process config. */
  async prepareImageRootfs(image: string, key: string, call?: CallOptions): Promise<ImageRootfs> {
    const { prepareImageRootfs } = await import("./images-rootfs.js");
    return prepareImageRootfs(this.#session, image, key, call);
  }

  /** Removes a snapshot (a container's rootfs made by prepareImageRootfs). */
  async removeSnapshot(snapshotter: string, key: string, call?: CallOptions): Promise<void> {
    const { removeSnapshot } = await import("./images-rootfs.js");
    return removeSnapshot(this.#session, snapshotter, key, call);
  }

  // ---- containers and tasks ----

  /** Creates a container record. Make it run with `container.newTask()`. */
  newContainer(id: string, options: NewContainerOptions, call?: CallOptions): Promise<Container> {
    return createContainer(this.#session, id, options, call);
  }

  /** A container by id. */
  async loadContainer(id: string, call?: CallOptions): Promise<Container> {
    const r = await this.#session.services.containers.get({ id }, this.#session.call(call));
    const container = required(r.container, `container "${id}"`, "container");
    return new ContainerClass(this.#session, containerInfoOf(container));
  }

  /** Containers of the namespace, optionally filtered (`labels.app==web`, `runtime.name==...`). */
  async containers(filters: readonly string[] = [], call?: CallOptions): Promise<Container[]> {
    const r = await this.#session.services.containers.list(
      { filters: [...filters] },
      this.#session.call(call),
    );
    return r.containers.map((c) => new ContainerClass(this.#session, containerInfoOf(c)));
  }

  /** Container records, without wrapping them. */
  async containerInfos(
    filters: readonly string[] = [],
    call?: CallOptions,
  ): Promise<ContainerInfo[]> {
    return (await this.containers(filters, call)).map((c) => c.info);
  }

  /** The tasks of the namespace (their init processes). */
  async tasks(filter = "", call?: CallOptions): Promise<ProcessState[]> {
    const r = await this.#session.services.tasks.list({ filter }, this.#session.call(call));
    return r.tasks.map((t) => processStateOf(t));
  }

  // ---- events ----

  /**
   * Events as they happen, from every namespace unless a filter says otherwise
   * (`namespace==default`, `topic=="/tasks/exit"`, `event.container_id==web`;
   * filters are ORed, commas inside one AND; values with `/` must be quoted).
   * Ends when `signal` aborts.
   *
   * @example
   * for await (const e of client.subscribe([`namespace==${client.namespace}`], { signal })) {
   *   if (e.event?.$typeName === "containerd.events.TaskExit") console.log(e.event.exitStatus);
   * }
   */
  async *subscribe(
    filters: readonly string[] = [],
    options: SubscribeOptions = {},
  ): AsyncIterable<Envelope> {
    const stream = this.#session.services.events.subscribe(
      { filters: [...filters] },
      this.#session.call({ signal: options.signal }),
    );
    for await (const envelope of stream) yield await decodeEnvelope(envelope);
  }
}

function checkNamespace(namespace: string): void {
  if (namespace.length > 76 || !identifier.test(namespace)) {
    throw invalidArgument(
      `namespace ${JSON.stringify(namespace)} must match ${identifier.source} and be at most 76 characters`,
    );
  }
}
