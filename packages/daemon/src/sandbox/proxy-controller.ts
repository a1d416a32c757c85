/**
 * A proxy sandbox controller (containerd core/sandbox/proxy/controller.go):
 * `[proxy_plugins.NAME] type = "sandbox"` reached over gRPC
 * `containerd.services.sandbox.v1.Controller`, with `sandboxer = NAME` in
 * every request and the namespace in `containerd-namespace` — how Kuasar's
 * sandboxers (and sbx-sandboxer) plug into containerd. Errors come back as
 * errdefs kinds (the Channel's fromStatus); a sandboxer that does not answer
 * is Unavailable naming it. After such a failure the next call uses a fresh
 * channel, so a sandboxer that comes back is reached at once rather than
 * after gRPC's own reconnect backoff.
 *
 * The same controller serves sbx-sandboxer hosted in sandboxd's own process
 * (`[sandbox] in_process`, sandbox/in-process.ts): then its transport is a
 * local client of the sandboxer's Controller implementation, not a Channel.
 */
import { Kind, isNotFound, isUnavailable, wrapAs } from "@sandboxd/errdefs";
import { namespaceHeader, namespaceRequired, type Ctx } from "@sandboxd/core";
import { Channel, type CallOptions, type Client } from "@sandboxd/grpc";
import { Controller } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import type { Metric } from "@sandboxd/api/types/metrics_pb";
import type { Sandbox } from "../metadata/types.js";
import { sandboxToProto } from "./convert.js";
import type {
  CreateOptions,
  ExitStatus,
  Platform,
  SandboxController,
  StartResult,
  StatusResult,
} from "./controller.js";

/** How a ProxyController reaches its sandboxer's Controller. */
export interface ControllerTransport {
  /** Where the sandboxer is, for error messages. */
  readonly where: string;
  readonly client: Client<typeof Controller>;
  /** After an Unavailable error: the next call should use a fresh connection. */
  reset(): void;
  close(): void;
}

/** A sandboxer over gRPC on a unix socket. */
class ChannelTransport implements ControllerTransport {
  readonly where: string;
  #channel: Channel;
  #client: Client<typeof Controller>;

  constructor(address: string) {
    this.where = address.startsWith("unix://") ? address.slice("unix://".length) : address;
    this.#channel = new Channel(this.where);
    this.#client = this.#channel.client(Controller);
  }

  get client(): Client<typeof Controller> {
    return this.#client;
  }

  reset(): void {
    const old = this.#channel;
    this.#channel = new Channel(this.where);
    this.#client = this.#channel.client(Controller);
    old.close();
  }

  close(): void {
    this.#channel.close();
  }
}

export class ProxyController implements SandboxController {
  readonly name: string;
  readonly #transport: ControllerTransport;

  /** `peer`: the sandboxer's socket address, or a transport of its own. */
  constructor(name: string, peer: string | ControllerTransport) {
    this.name = name;
    this.#transport = typeof peer === "string" ? new ChannelTransport(peer) : peer;
  }

  async create(ctx: Ctx, sandbox: Sandbox, options: CreateOptions): Promise<void> {
    await this.#call(ctx, (c, o) =>
      c.create(
        {
          sandboxId: sandbox.id,
          rootfs: options.rootfs,
          options: options.options,
          netnsPath: options.netnsPath,
          annotations: options.annotations,
          sandbox: sandboxToProto(sandbox),
          sandboxer: this.name,
        },
        o,
      ),
    );
  }

  async start(ctx: Ctx, id: string): Promise<StartResult> {
    const r = await this.#call(ctx, (c, o) => c.start({ sandboxId: id, sandboxer: this.name }, o));
    return {
      pid: r.pid,
      createdAt: r.createdAt,
      labels: { ...r.labels },
      address: r.address,
      version: r.version,
      spec: r.spec,
    };
  }

  async platform(ctx: Ctx, id: string): Promise<Platform> {
    const r = await this.#call(ctx, (c, o) =>
      c.platform({ sandboxId: id, sandboxer: this.name }, o),
    );
    return r.platform ?? {};
  }

  async stop(ctx: Ctx, id: string, timeoutSecs: number): Promise<void> {
    try {
      await this.#call(ctx, (c, o) =>
        c.stop({ sandboxId: id, timeoutSecs, sandboxer: this.name }, o),
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async wait(ctx: Ctx, id: string): Promise<ExitStatus> {
    const r = await this.#call(ctx, (c, o) => c.wait({ sandboxId: id, sandboxer: this.name }, o));
    return { exitStatus: r.exitStatus, exitedAt: r.exitedAt };
  }

  async status(ctx: Ctx, id: string, verbose: boolean): Promise<StatusResult> {
    const r = await this.#call(ctx, (c, o) =>
      c.status({ sandboxId: id, verbose, sandboxer: this.name }, o),
    );
    return {
      pid: r.pid,
      state: r.state,
      info: { ...r.info },
      createdAt: r.createdAt,
      exitedAt: r.exitedAt,
      extra: r.extra,
      address: r.address,
      version: r.version,
    };
  }

  async shutdown(ctx: Ctx, id: string, force: boolean): Promise<void> {
    try {
      await this.#call(ctx, (c, o) => c.shutdown({ sandboxId: id, sandboxer: this.name }, o));
    } catch (err) {
      if (isNotFound(err)) return;
      if (force && isUnavailable(err)) {
        ctx.log.warn(
          { error: err, sandbox_id: id, sandboxer: this.name },
          "forced shutdown: the sandboxer cannot be reached; its state for the sandbox is left to it",
        );
        return;
      }
      throw err;
    }
  }

  async metrics(ctx: Ctx, id: string): Promise<Metric | undefined> {
    const r = await this.#call(ctx, (c, o) =>
      c.metrics({ sandboxId: id, sandboxer: this.name }, o),
    );
    return r.metrics;
  }

  async update(ctx: Ctx, id: string, sandbox: Sandbox, fields: readonly string[]): Promise<void> {
    await this.#call(ctx, (c, o) =>
      c.update(
        {
          sandboxId: id,
          sandboxer: this.name,
          sandbox: sandboxToProto(sandbox),
          fields: [...fields],
        },
        o,
      ),
    );
  }

  /** A remote sandboxer keeps its own state: nothing to reload here. */
  load(): Promise<{ namespace: string; id: string }[]> {
    return Promise.resolve([]);
  }

  close(): Promise<void> {
    this.#transport.close();
    return Promise.resolve();
  }

  async #call<T>(
    ctx: Ctx,
    fn: (client: Client<typeof Controller>, options: CallOptions) => Promise<T>,
  ): Promise<T> {
    const options: CallOptions = {
      signal: ctx.signal,
      deadline: ctx.deadline,
      metadata: { [namespaceHeader]: namespaceRequired(ctx) },
    };
    const client = this.#transport.client;
    try {
      return await fn(client, options);
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      if (this.#transport.client === client) this.#transport.reset();
      throw wrapAs(
        Kind.Unavailable,
        err,
        `sandboxer ${JSON.stringify(this.name)} at ${this.#transport.where} unreachable`,
      );
    }
  }
}
