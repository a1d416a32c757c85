/**
 * "How to obtain a task API connection for this container" (containerd's
 * ShimManager.Start), in one place:
 *
 * - a container whose `sandbox` is set, when the sandbox's task API is known
 *   and speaks version 3 or later, is attached to it: `<bundle>/sandbox` and
 *   `bootstrap.json` are written and the daemon connects, with no `start` and
 *   no `delete`;
 * - every other container gets its own shim binary (`BinaryShims`).
 *
 * The Sandbox API plugs in with `setSandboxEndpoints`; until then every
 * container takes the binary path. After a restart, `load` reconnects from
 * what the bundle records.
 */
import { notFound } from "@sandboxd/errdefs";
import type { Ctx } from "@sandboxd/core";
import type { BinaryShims } from "./binary-shim.js";
import { readBootstrap, writeBootstrap, type BootstrapInfo } from "./bootstrap.js";
import { BundleFile, type Bundle } from "./bundle.js";
import type { ExitInfo, Shim, ShimStarter, StartShimRequest } from "./shim.js";
import { connectTask, type TaskConnection } from "./task-client.js";

/** A sandbox's task API endpoint: `ttrpc+unix:///...` and the version served there. */
export interface TaskEndpoint {
  address: string;
  version: number;
}

/** Implemented by the Sandbox API: where a sandbox serves its containers' tasks. */
export interface SandboxEndpoints {
  /** The endpoint of `sandboxId` in the context's namespace; undefined when unknown. */
  endpoint(ctx: Ctx, sandboxId: string): Promise<TaskEndpoint | undefined>;
}

/** Sandboxes must serve at least this task API version to take containers without a shim. */
export const minSandboxTaskVersion = 3;

export class ShimManager implements ShimStarter {
  readonly #binary: BinaryShims;
  #sandboxes: SandboxEndpoints | undefined;

  constructor(binary: BinaryShims, sandboxes?: SandboxEndpoints) {
    this.#binary = binary;
    this.#sandboxes = sandboxes;
  }

  setSandboxEndpoints(sandboxes: SandboxEndpoints | undefined): void {
    this.#sandboxes = sandboxes;
  }

  prepare(request: Omit<StartShimRequest, "bundle">): void {
    // A sandboxed container may still fall back to its own shim: check the runtime either way.
    this.#binary.prepare(request);
  }

  async start(ctx: Ctx, request: StartShimRequest): Promise<Shim> {
    const sandboxId = request.container.sandbox;
    if (sandboxId !== "" && this.#sandboxes) {
      const endpoint = await this.#sandboxes.endpoint(ctx, sandboxId);
      if (!endpoint) {
        ctx.log.warn(
          { sandbox_id: sandboxId },
          "sandbox not found, starting a shim for the container",
        );
      } else if (endpoint.version < minSandboxTaskVersion) {
        ctx.log.debug(
          { sandbox_id: sandboxId, version: endpoint.version },
          "sandbox task API too old, starting a shim",
        );
      } else {
        return this.#attach(ctx, request.bundle, sandboxId, endpoint);
      }
    }
    return this.#binary.start(ctx, request);
  }

  /** Reconnects to the task API recorded in `bundle`; NotFound if nothing is recorded. */
  async load(ctx: Ctx, bundle: Bundle): Promise<Shim> {
    const info = await readBootstrap(bundle);
    if (!info) throw notFound(`no shim address in bundle ${bundle.path}`);
    const sandboxId = await bundle.read(BundleFile.Sandbox);
    if (sandboxId !== undefined) {
      const connection = await connectTask(info.address, info.version, {
        namespace: bundle.namespace,
        signal: ctx.signal,
        timeoutMs: 5000,
      });
      return new SandboxTask(bundle, connection);
    }
    return this.#binary.load(ctx, bundle, info);
  }

  /** Cleans up after a task whose shim is gone: the binary's `delete` if it had one. */
  async cleanupDead(ctx: Ctx, bundle: Bundle): Promise<ExitInfo | undefined> {
    if ((await bundle.read(BundleFile.Sandbox)) !== undefined) return undefined;
    return this.#binary.delete(ctx, bundle);
  }

  async #attach(
    ctx: Ctx,
    bundle: Bundle,
    sandboxId: string,
    endpoint: TaskEndpoint,
  ): Promise<Shim> {
    const plus = endpoint.address.indexOf("+");
    const protocol = plus > 0 ? endpoint.address.slice(0, plus) : "ttrpc";
    const address = plus > 0 ? endpoint.address.slice(plus + 1) : endpoint.address;
    const info: BootstrapInfo = {
      version: endpoint.version,
      address,
      protocol: protocol === "grpc" ? "grpc" : "ttrpc",
    };
    await Promise.all([bundle.write(BundleFile.Sandbox, sandboxId), writeBootstrap(bundle, info)]);
    const connection = await connectTask(endpoint.address, endpoint.version, {
      namespace: bundle.namespace,
      signal: ctx.signal,
      timeoutMs: 5000,
    });
    return new SandboxTask(bundle, connection);
  }
}

/** A container served by its sandbox's task API: nothing to start or delete. */
class SandboxTask implements Shim {
  readonly kind = "sandbox";
  readonly bundle: Bundle;
  readonly connection: TaskConnection;

  constructor(bundle: Bundle, connection: TaskConnection) {
    this.bundle = bundle;
    this.connection = connection;
  }

  cleanup(): Promise<ExitInfo | undefined> {
    return Promise.resolve(undefined);
  }

  release(): void {}
}
