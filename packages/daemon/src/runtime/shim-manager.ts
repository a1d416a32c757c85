/**
 * "How to obtain a task API connection for this container" (containerd's
 * ShimManager.Start), in one place:
 *
 * - a container whose `sandbox` is set is served by its sandbox: the Sandbox
 *   API (`SandboxEndpoints`) says where, and refuses a sandbox that does not
 *   exist (NotFound) or is not ready (FailedPrecondition). An endpoint of
 *   version 3 or later is attached to: `<bundle>/sandbox` and
 *   `bootstrap.json` are written and the daemon connects, with no `start` and
 *   no `delete`; an older endpoint needs a shim per container, as in containerd;
 * - every other container gets its own shim binary (`BinaryShims`).
 *
 * `route` decides before anything is made; `start` then follows the route.
 * After a restart, `load` reconnects from what the bundle records; a
 * sandbox's task API that is unreachable then is reconnected in the
 * background rather than taken for dead.
 */
import { notFound } from "@sandboxd/errdefs";
import type { Ctx } from "@sandboxd/core";
import type { BinaryShims } from "./binary-shim.js";
import { bootstrapJson, readBootstrap } from "./bootstrap.js";
import { BundleFile, type Bundle } from "./bundle.js";
import {
  bootstrapOf,
  endpointOf,
  SandboxTask,
  SandboxTaskConnection,
  type TaskEndpoint,
} from "./sandbox-task.js";
import type { ExitInfo, Shim, StartShimRequest } from "./shim.js";

export type { TaskEndpoint } from "./sandbox-task.js";

/** Implemented by the Sandbox API: where a sandbox serves its containers' tasks. */
export interface SandboxEndpoints {
  /**
   * The endpoint of `sandboxId` in the context's namespace, asked of its
   * controller now. NotFound when the sandbox does not exist,
   * FailedPrecondition when it is not ready (not started, exited, unreachable).
   */
  endpoint(ctx: Ctx, sandboxId: string): Promise<TaskEndpoint>;
  /** The last endpoint the sandbox reported, without asking (for reconnecting); never throws. */
  knownEndpoint(namespace: string, sandboxId: string): TaskEndpoint | undefined;
}

/** Sandboxes must serve at least this task API version to take containers without a shim. */
const minSandboxTaskVersion = 3;

/** How a container's task is served, decided before anything is made. */
export type Route =
  | { readonly kind: "binary" }
  | { readonly kind: "sandbox"; readonly sandboxId: string; readonly endpoint: TaskEndpoint };

export class ShimManager {
  readonly #binary: BinaryShims;
  #sandboxes: SandboxEndpoints | undefined;

  constructor(binary: BinaryShims, sandboxes?: SandboxEndpoints) {
    this.#binary = binary;
    this.#sandboxes = sandboxes;
  }

  setSandboxEndpoints(sandboxes: SandboxEndpoints | undefined): void {
    this.#sandboxes = sandboxes;
  }

  /**
   * Where the container's task goes; throws (before any side effect) when it
   * cannot go anywhere: an uninstalled runtime, a missing or unready sandbox.
   */
  async route(ctx: Ctx, request: Omit<StartShimRequest, "bundle">): Promise<Route> {
    const sandboxId = request.container.sandbox;
    if (sandboxId !== "" && this.#sandboxes) {
      const endpoint = await this.#sandboxes.endpoint(ctx, sandboxId);
      if (endpoint.version >= minSandboxTaskVersion) {
        return { kind: "sandbox", sandboxId, endpoint };
      }
      ctx.log.debug(
        { sandbox_id: sandboxId, version: endpoint.version },
        "sandbox task API too old, starting a shim",
      );
    }
    this.#binary.prepare(request);
    return { kind: "binary" };
  }

  async start(ctx: Ctx, request: StartShimRequest, route: Route): Promise<Shim> {
    if (route.kind === "sandbox") {
      const { bundle } = request;
      // Connecting first: the socket connects while the files are written.
      const connecting = SandboxTaskConnection.open(
        ctx,
        bundle,
        route.sandboxId,
        route.endpoint,
        this.#hint(bundle.namespace, route.sandboxId),
        false,
      );
      try {
        // In this order: a bootstrap.json without `sandbox` would be taken for a shim's. A
        // few bytes each, written on the calling thread (see Bundle.writeNow).
        bundle.writeNow(BundleFile.Sandbox, route.sandboxId);
        bundle.writeNow(BundleFile.Bootstrap, bootstrapJson(bootstrapOf(route.endpoint)));
      } catch (err) {
        void connecting.then(
          (connection) => connection.close(),
          () => undefined,
        );
        throw err;
      }
      return new SandboxTask(bundle, await connecting);
    }
    return this.#binary.start(ctx, request);
  }

  /**
   * Reconnects to the task API recorded in `bundle`; NotFound if nothing is
   * recorded. A sandbox's task API that does not answer is not an error: the
   * task is returned unreachable and reconnects in the background.
   */
  async load(ctx: Ctx, bundle: Bundle): Promise<Shim> {
    const info = await readBootstrap(bundle);
    const sandboxId = (await bundle.read(BundleFile.Sandbox))?.trim();
    // Empty: killed while writing it, before the create (written before bootstrap.json).
    if (sandboxId === "") throw notFound(`no sandbox id in bundle ${bundle.path}`);
    if (sandboxId !== undefined) {
      // No address recorded: the sandbox's own endpoint is asked, since only it knows
      // whether a create got through before the daemon died.
      const endpoint = info
        ? endpointOf(info)
        : this.#sandboxes?.knownEndpoint(bundle.namespace, sandboxId);
      if (!endpoint) throw notFound(`no task address in bundle ${bundle.path}`);
      const connection = await SandboxTaskConnection.open(
        ctx,
        bundle,
        sandboxId,
        endpoint,
        this.#hint(bundle.namespace, sandboxId),
        true,
      );
      return new SandboxTask(bundle, connection);
    }
    if (!info) throw notFound(`no shim address in bundle ${bundle.path}`);
    return this.#binary.load(ctx, bundle, info);
  }

  /** Cleans up after a task whose shim is gone: the binary's `delete` if it had one. */
  async cleanupDead(ctx: Ctx, bundle: Bundle): Promise<ExitInfo | undefined> {
    if ((await bundle.read(BundleFile.Sandbox)) !== undefined) return undefined;
    return this.#binary.delete(ctx, bundle);
  }

  #hint(namespace: string, sandboxId: string): () => Promise<TaskEndpoint | undefined> {
    return () => Promise.resolve(this.#sandboxes?.knownEndpoint(namespace, sandboxId));
  }
}
