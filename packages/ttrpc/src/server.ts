/**
 * A ttrpc server: register services, then serve unix-socket listeners or any Duplex.
 *
 * Not implemented: Go's `UnixSocketRequireSameUser` (an SO_PEERCRED check of the peer's
 * uid/gid). Node has no portable API for SO_PEERCRED on a net.Socket, so this library
 * does not pretend to; use the `onConnection` hook to refuse connections by other means,
 * and rely on the socket file's mode and its directory (containerd's sockets live in
 * root-owned 0711/0700 directories).
 */
import net from "node:net";
import type { Duplex } from "node:stream";
import type { DescService } from "@bufbuild/protobuf";
import type { Status } from "./errors.js";
import { defaultErrorToStatus } from "./errors.js";
import { publishError } from "./diagnostics.js";
import type { ConnectionHost } from "./server-connection.js";
import { ServerConnection } from "./server-connection.js";
import type { RawMethod, ServiceImpl, UnaryHandler } from "./services.js";
import { ServiceRegistry } from "./services.js";

export interface ServerOptions {
  /**
   * Maps a handler's thrown value to the status sent back. Default:
   * {@link defaultErrorToStatus}. If it throws, the status is UNKNOWN.
   */
  readonly errorToStatus?: (err: unknown) => Status;
  /**
   * Called for each new connection before any byte is read. Return false to refuse it
   * (it is destroyed at once), e.g. after checking peer credentials.
   */
  readonly onConnection?: (socket: Duplex) => boolean | void;
}

export interface ShutdownOptions {
  /** How long calls in flight may take before the server closes anyway (default 10 s). */
  readonly timeoutMs?: number;
}

export class Server {
  readonly #registry = new ServiceRegistry();
  readonly #errorToStatus: (err: unknown) => Status;
  readonly #onConnection: ((socket: Duplex) => boolean | void) | undefined;
  readonly #connections = new Set<ServerConnection>();
  readonly #listeners = new Set<net.Server>();
  readonly #host: ConnectionHost;
  #state: "serving" | "draining" | "closed" = "serving";
  #drained: (() => void) | undefined;

  constructor(options: ServerOptions = {}) {
    this.#errorToStatus = options.errorToStatus ?? defaultErrorToStatus;
    this.#onConnection = options.onConnection;
    this.#host = {
      registry: this.#registry,
      errorToStatus: this.#errorToStatus,
      accepting: () => this.#state === "serving",
      idle: (conn) => {
        if (this.#state !== "serving") void conn.end();
      },
      closed: (conn) => {
        this.#connections.delete(conn);
        if (this.#connections.size === 0) this.#drained?.();
      },
    };
  }

  /**
   * Registers a typed implementation of a protobuf-es service. `serviceName` overrides
   * the name it is served under (default: the descriptor's full name), so one
   * implementation can be registered twice under two names.
   */
  register<S extends DescService>(
    service: S,
    impl: ServiceImpl<S>,
    options?: { serviceName?: string },
  ): this {
    this.#registry.addService(service, impl, options?.serviceName);
    return this;
  }

  /** Registers a handler on bytes: a unary function, or a {@link RawMethod} of any kind. */
  registerMethod(service: string, method: string, handler: UnaryHandler | RawMethod): this {
    this.#registry.add(
      service,
      method,
      typeof handler === "function" ? { kind: "unary", handler } : handler,
    );
    return this;
  }

  /** Creates a listener (a unix socket path, or any `net.ListenOptions` such as `{ fd }`). */
  async listen(target: string | net.ListenOptions): Promise<net.Server> {
    const listener = net.createServer();
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(typeof target === "string" ? { path: target } : target, () => {
        listener.off("error", reject);
        resolve();
      });
    });
    this.serve(listener);
    return listener;
  }

  /** Serves connections accepted by `listener` until the server shuts down. */
  serve(listener: net.Server): void {
    if (this.#state !== "serving") throw new Error("ttrpc: server closed");
    this.#listeners.add(listener);
    listener.on("connection", (socket: net.Socket) => this.serveConnection(socket));
    listener.on("error", (error) => publishError({ side: "server", error }));
    listener.once("close", () => this.#listeners.delete(listener));
  }

  /** Serves one already-established connection (any Duplex: a socket, an in-memory pair). */
  serveConnection(socket: Duplex): void {
    if (this.#state !== "serving" || this.#onConnection?.(socket) === false) {
      socket.destroy();
      return;
    }
    this.#connections.add(new ServerConnection(socket, this.#host));
  }

  /** Open connections (for leak checks). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Stops accepting connections and requests, lets calls in flight finish (each
   * connection closes once it is idle), and closes whatever is left after `timeoutMs`.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "draining";
    const listenersClosed = this.#closeListeners();
    const drained = new Promise<void>((resolve) => {
      if (this.#connections.size === 0) resolve();
      else this.#drained = resolve;
    });
    for (const conn of this.#connections) if (conn.activeStreams === 0) void conn.end();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, options.timeoutMs ?? 10_000);
    });
    await Promise.race([drained, timedOut]);
    clearTimeout(timer);
    await this.close();
    await listenersClosed;
  }

  /** Closes every listener and connection at once; handlers' signals abort. */
  async close(): Promise<void> {
    this.#state = "closed";
    const listenersClosed = this.#closeListeners();
    await Promise.all([...this.#connections].map((conn) => conn.destroy()));
    await listenersClosed;
  }

  #closeListeners(): Promise<void> {
    const all = [...this.#listeners].map(
      (listener) =>
        new Promise<void>((resolve) => {
          if (!listener.listening) resolve();
          else listener.close(() => resolve());
        }),
    );
    this.#listeners.clear();
    return Promise.all(all).then(() => undefined);
  }
}
