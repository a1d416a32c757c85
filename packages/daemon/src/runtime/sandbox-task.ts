/**
 * A container's task served by its sandbox's task API (no shim binary of its
 * own). A sandboxer that dies is not the task dying: its containers run on
 * under their monitors, and the sandboxer comes back. So when the connection
 * drops, calls fail with Unavailable while it reconnects (with backoff) to
 * the sandbox's current endpoint, and the task carries on once it is back.
 * Only an explicit `close` (task deleted, daemon stopping) ends it.
 */
import { unavailable, messageOf } from "@sandboxd/errdefs";
import type { Ctx } from "@sandboxd/core";
import type { DescService } from "@bufbuild/protobuf";
import { Task } from "@sandboxd/api/runtime/task/v2/shim_pb";
import type { TypedClient } from "@sandboxd/ttrpc";
import { writeBootstrap, type BootstrapInfo } from "./bootstrap.js";
import type { Bundle } from "./bundle.js";
import type { ExitInfo, Shim } from "./shim.js";
import { connectTask, type TaskApi, type TaskConnection } from "./task-client.js";

/** A sandbox's task endpoint: `ttrpc+unix:///...` and the version served there. */
export interface TaskEndpoint {
  address: string;
  version: number;
}

/** Where the sandbox says its tasks are now, if known (never throws, never blocks long). */
export type EndpointHint = () => Promise<TaskEndpoint | undefined>;

const connectTimeoutMs = 5000;
const firstRetryMs = 100;
const maxRetryMs = 5000;

/** The bootstrap.json form of an endpoint (`ttrpc+unix:///x` → protocol ttrpc, `unix:///x`). */
export function bootstrapOf(endpoint: TaskEndpoint): BootstrapInfo {
  const plus = endpoint.address.indexOf("+");
  const protocol = plus > 0 ? endpoint.address.slice(0, plus) : "ttrpc";
  const address = plus > 0 ? endpoint.address.slice(plus + 1) : endpoint.address;
  return { version: endpoint.version, address, protocol: protocol === "grpc" ? "grpc" : "ttrpc" };
}

/** The endpoint form of a bootstrap (`ttrpc+unix:///x`). */
export function endpointOf(info: BootstrapInfo): TaskEndpoint {
  const address = info.address.includes("+") ? info.address : `${info.protocol}+${info.address}`;
  return { address, version: info.version };
}

export class SandboxTaskConnection implements TaskConnection {
  readonly api: TaskApi;
  readonly #bundle: Bundle;
  readonly #sandboxId: string;
  readonly #hint: EndpointHint;
  readonly #log: Ctx["log"];
  #endpoint: TaskEndpoint;
  #current: TaskConnection | undefined;
  #reason = "not connected";
  #closed = false;
  #wake: (() => void) | undefined;
  readonly #waiters = new Set<() => void>();
  readonly #onClose: (() => void)[] = [];
  readonly #onReconnect: (() => void)[] = [];

  private constructor(
    ctx: Ctx,
    bundle: Bundle,
    sandboxId: string,
    endpoint: TaskEndpoint,
    hint: EndpointHint,
  ) {
    this.#bundle = bundle;
    this.#sandboxId = sandboxId;
    this.#endpoint = endpoint;
    this.#hint = hint;
    this.#log = ctx.log;
    const api: Record<string, unknown> = {};
    for (const method of Task.methods) {
      api[method.localName] = async (request: unknown, options: unknown) => {
        const current = this.#current;
        if (!current) throw this.#unreachable();
        const call = (
          current.api as unknown as Record<string, (r: unknown, o: unknown) => unknown>
        )[method.localName];
        return await call?.(request, options);
      };
    }
    this.api = api as unknown as TaskApi;
  }

  /**
   * Connects to `endpoint`. With `reconnecting`, a failed first connection is
   * not an error: the connection starts out unreachable and keeps trying
   * (after a daemon restart, while the sandboxer is down).
   */
  static async open(
    ctx: Ctx,
    bundle: Bundle,
    sandboxId: string,
    endpoint: TaskEndpoint,
    hint: EndpointHint,
    reconnecting: boolean,
  ): Promise<SandboxTaskConnection> {
    const c = new SandboxTaskConnection(ctx, bundle, sandboxId, endpoint, hint);
    try {
      c.#attach(await c.#connect(endpoint, ctx.signal));
    } catch (err) {
      if (!reconnecting) throw err;
      c.#reason = messageOf(err);
      c.#log.warn({ error: c.#reason, sandbox_id: sandboxId }, "sandbox task API unreachable");
      void c.#reconnect();
    }
    return c;
  }

  get address(): string {
    return this.#endpoint.address;
  }

  get version(): number {
    return this.#endpoint.version;
  }

  /** Closed only by `close()`: a dropped connection is reconnected. */
  get closed(): boolean {
    return this.#closed;
  }

  get connected(): boolean {
    return this.#current !== undefined;
  }

  onClose(listener: () => void): void {
    this.#onClose.push(listener);
  }

  onReconnect(listener: () => void): void {
    this.#onReconnect.push(listener);
  }

  service<S extends DescService>(service: S, serviceName?: string): TypedClient<S> {
    const current = this.#current;
    if (!current) throw this.#unreachable();
    return current.service(service, serviceName);
  }

  ready(signal: AbortSignal): Promise<void> {
    if (this.#current) return Promise.resolve();
    if (this.#closed) return Promise.reject(unavailable("task connection closed"));
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        signal.removeEventListener("abort", onAbort);
        this.#waiters.delete(done);
        if (this.#current) resolve();
        else reject(unavailable("task connection closed"));
      };
      const onAbort = (): void => {
        this.#waiters.delete(done);
        reject(signal.reason instanceof Error ? signal.reason : this.#unreachable());
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.add(done);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    const current = this.#current;
    this.#current = undefined;
    await current?.close();
    for (const w of [...this.#waiters]) w();
    for (const l of this.#onClose.splice(0)) l();
  }

  #unreachable(): Error {
    return unavailable(
      `sandbox ${JSON.stringify(this.#sandboxId)} task API at ${this.#endpoint.address} unreachable: ${this.#reason}`,
    );
  }

  #connect(endpoint: TaskEndpoint, signal?: AbortSignal): Promise<TaskConnection> {
    return connectTask(endpoint.address, endpoint.version, {
      namespace: this.#bundle.namespace,
      signal,
      timeoutMs: connectTimeoutMs,
    });
  }

  #attach(connection: TaskConnection): void {
    this.#current = connection;
    connection.onClose(() => {
      if (this.#current !== connection) return;
      this.#current = undefined;
      if (this.#closed) return;
      this.#reason = "connection lost";
      this.#log.warn(
        { sandbox_id: this.#sandboxId, id: this.#bundle.id, address: this.#endpoint.address },
        "sandbox task API disconnected, reconnecting",
      );
      void this.#reconnect();
    });
  }

  async #reconnect(): Promise<void> {
    let delay = firstRetryMs;
    while (!this.#closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      if (this.#closed) return;
      const endpoint = (await this.#hint().catch(() => undefined)) ?? this.#endpoint;
      let connection: TaskConnection;
      try {
        connection = await this.#connect(endpoint);
      } catch (err) {
        this.#reason = messageOf(err);
        delay = Math.min(delay * 2, maxRetryMs);
        continue;
      }
      if (this.#closed) {
        await connection.close();
        return;
      }
      if (
        endpoint.address !== this.#endpoint.address ||
        endpoint.version !== this.#endpoint.version
      ) {
        this.#endpoint = endpoint;
        await writeBootstrap(this.#bundle, bootstrapOf(endpoint)).catch(() => undefined);
      }
      this.#attach(connection);
      this.#log.info(
        { sandbox_id: this.#sandboxId, id: this.#bundle.id, address: endpoint.address },
        "sandbox task API reconnected",
      );
      for (const w of [...this.#waiters]) w();
      for (const l of this.#onReconnect) l();
      return;
    }
  }
}

/** A container served by its sandbox's task API: nothing to start or delete. */
export class SandboxTask implements Shim {
  readonly kind = "sandbox";
  readonly bundle: Bundle;
  readonly connection: SandboxTaskConnection;

  constructor(bundle: Bundle, connection: SandboxTaskConnection) {
    this.bundle = bundle;
    this.connection = connection;
  }

  cleanup(): Promise<ExitInfo | undefined> {
    return Promise.resolve(undefined);
  }

  release(): void {}

  onReconnect(listener: () => void): void {
    this.connection.onReconnect(listener);
  }
}
