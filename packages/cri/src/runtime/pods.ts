/**
 * Pods are sandboxes: RunPodSandbox writes a Sandbox record (runtime =
 * the handler's runtime_type, sandboxer = the handler's, the whole
 * PodSandboxConfig as extension and as Controller.Create options, as
 * containerd 2.x does) and asks the daemon's Controller to create and start
 * it. No pause container: the sandboxer pins the namespaces. State comes
 * from Controller.Status.
 */
import { create } from "@bufbuild/protobuf";
import {
  PodSandboxConfigSchema,
  PodSandboxState,
  PodSandboxStatusSchema,
  NamespaceMode,
  type PodSandbox,
  type PodSandboxConfig,
  type PodSandboxFilter,
  type PodSandboxStatus,
  PodSandboxSchema,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import {
  ControllerCreateRequestSchema,
  ControllerShutdownRequestSchema,
  ControllerStartRequestSchema,
  ControllerStatusRequestSchema,
  ControllerStopRequestSchema,
  StoreCreateRequestSchema,
  StoreDeleteRequestSchema,
  StoreGetRequestSchema,
  StoreListRequestSchema,
} from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { SandboxSchema, type Sandbox } from "@sandboxd/api/types/sandbox_pb";
import type { Ctx } from "@sandboxd/core";
import { alreadyExists, invalidArgument, notFound } from "@sandboxd/errdefs";
import type { Backend } from "../backend.js";
import { handlerOf, type CriConfig } from "../config.js";
import { idMatches, labelsMatch, resolveId } from "./filters.js";
import { checkUserns } from "./userns.js";
import { anyOf, fromAny, ignoreNotFound, msOfTs, newId, nsOf } from "./util.js";

/** The extension holding the pod's PodSandboxConfig. */
export const podConfigExtension = "io.sandboxd.cri.pod-config";
/** The label marking a sandbox as a CRI pod, and the one carrying its unique name. */
export const podLabel = "io.sandboxd.cri.pod";
const handlerLabel = "io.sandboxd.cri.runtime-handler";

export interface Pod {
  id: string;
  config: PodSandboxConfig;
  handler: string;
  createdAtMs: number;
  record: Sandbox;
}

export function podName(c: PodSandboxConfig): string {
  const m = c.metadata;
  return [m?.name, m?.namespace, m?.uid, m?.attempt ?? 0].join("_");
}

/** The CRI pod a sandbox record is, if it is one. */
function podOf(s: Sandbox): Pod | undefined {
  const config = fromAny(PodSandboxConfigSchema, s.extensions[podConfigExtension]);
  if (!config || s.labels[podLabel] === undefined) return undefined;
  return {
    id: s.sandboxId,
    config,
    handler: s.labels[handlerLabel] ?? "",
    createdAtMs: msOfTs(s.createdAt),
    record: s,
  };
}

export class Pods {
  readonly #b: Backend;
  readonly #config: CriConfig;
  /** Names being created (reserved before the record exists). */
  readonly #reserved = new Set<string>();

  constructor(backend: Backend, config: CriConfig) {
    this.#b = backend;
    this.#config = config;
  }

  async run(ctx: Ctx, config: PodSandboxConfig, runtimeHandler: string): Promise<string> {
    const m = config.metadata;
    if (!m || !m.name) throw invalidArgument("PodSandboxConfig.metadata.name must be set");
    const handler = handlerOf(this.#config, runtimeHandler);
    checkUserns(config, handler.runtimeType);
    const name = podName(config);
    if (this.#reserved.has(name) || (await this.list(ctx)).some((p) => podName(p.config) === name))
      throw alreadyExists(
        `failed to reserve sandbox name ${JSON.stringify(name)}: already reserved`,
      );
    this.#reserved.add(name);
    const id = newId();
    try {
      const options = anyOf(PodSandboxConfigSchema, config);
      await this.#b.sandboxStore.create(
        ctx,
        create(StoreCreateRequestSchema, {
          sandbox: {
            sandboxId: id,
            runtime: { name: handler.runtimeType },
            sandboxer: handler.sandboxer,
            labels: { [podLabel]: name, [handlerLabel]: handler.name },
            extensions: { [podConfigExtension]: options },
          },
        }),
      );
      try {
        await this.#b.sandboxController.create(
          ctx,
          create(ControllerCreateRequestSchema, {
            sandboxId: id,
            sandboxer: handler.sandboxer,
            options,
          }),
        );
        await this.#b.sandboxController.start(
          ctx,
          create(ControllerStartRequestSchema, { sandboxId: id, sandboxer: handler.sandboxer }),
        );
      } catch (err) {
        await this.#undo(ctx, id, handler.sandboxer);
        throw err;
      }
      return id;
    } finally {
      this.#reserved.delete(name);
    }
  }

  async #undo(ctx: Ctx, id: string, sandboxer: string): Promise<void> {
    try {
      await this.#b.sandboxController.shutdown(
        ctx,
        create(ControllerShutdownRequestSchema, { sandboxId: id, sandboxer }),
        true,
      );
    } catch (err) {
      ctx.log.warn({ error: err, id }, "undo sandbox shutdown");
    }
    await ignoreNotFound(() =>
      this.#b.sandboxStore.delete(ctx, create(StoreDeleteRequestSchema, { sandboxId: id }), true),
    );
  }

  async get(ctx: Ctx, id: string): Promise<Pod> {
    // A full id (what kubelet sends) is one record; only a prefix needs them all.
    // Any failure (not found, not a valid id) leaves it to the listing below, as before.
    const stored = id
      ? await Promise.resolve()
          .then(() =>
            this.#b.sandboxStore.get(ctx, create(StoreGetRequestSchema, { sandboxId: id })),
          )
          .catch(() => undefined)
      : undefined;
    const one = stored?.sandbox ? podOf(create(SandboxSchema, stored.sandbox)) : undefined;
    if (one) return one;
    const all = await this.list(ctx);
    const exact = all.find((p) => p.id === id);
    if (exact) return exact;
    const byPrefix = id ? all.filter((p) => p.id.startsWith(id)) : [];
    if (byPrefix.length === 1 && byPrefix[0]) return byPrefix[0];
    throw notFound(`an error occurred when try to find sandbox ${JSON.stringify(id)}: not found`);
  }

  async list(ctx: Ctx): Promise<Pod[]> {
    const r = await this.#b.sandboxStore.list(ctx, create(StoreListRequestSchema, {}));
    const pods: Pod[] = [];
    for (const init of r.list ?? []) {
      const pod = podOf(create(SandboxSchema, init));
      if (pod) pods.push(pod);
    }
    return pods;
  }

  /** READY or NOTREADY, the pod's IP and the controller's info. */
  async state(
    ctx: Ctx,
    pod: Pod,
  ): Promise<{ ready: boolean; ip: string; info: Record<string, string> }> {
    try {
      const s = await this.#b.sandboxController.status(
        ctx,
        create(ControllerStatusRequestSchema, {
          sandboxId: pod.id,
          sandboxer: pod.record.sandboxer,
          verbose: true,
        }),
      );
      const info = { ...(s.info ?? {}) };
      return { ready: s.state === "SANDBOX_READY", ip: info.ip ?? "", info };
    } catch (err) {
      ctx.log.debug({ error: err, id: pod.id }, "sandbox status");
      return { ready: false, ip: "", info: {} };
    }
  }

  async stop(ctx: Ctx, pod: Pod): Promise<void> {
    await ignoreNotFound(() =>
      this.#b.sandboxController.stop(
        ctx,
        create(ControllerStopRequestSchema, {
          sandboxId: pod.id,
          sandboxer: pod.record.sandboxer,
          timeoutSecs: 0,
        }),
      ),
    );
  }

  async remove(ctx: Ctx, pod: Pod): Promise<void> {
    await ignoreNotFound(() =>
      this.#b.sandboxController.shutdown(
        ctx,
        create(ControllerShutdownRequestSchema, {
          sandboxId: pod.id,
          sandboxer: pod.record.sandboxer,
        }),
        true,
      ),
    );
    await ignoreNotFound(() =>
      this.#b.sandboxStore.delete(
        ctx,
        create(StoreDeleteRequestSchema, { sandboxId: pod.id }),
        true,
      ),
    );
  }

  async exists(ctx: Ctx, id: string): Promise<boolean> {
    return (
      (await ignoreNotFound(() =>
        this.#b.sandboxStore.get(ctx, create(StoreGetRequestSchema, { sandboxId: id })),
      )) !== undefined
    );
  }

  async status(
    ctx: Ctx,
    pod: Pod,
  ): Promise<{ status: PodSandboxStatus; info: Record<string, string> }> {
    const st = await this.state(ctx, pod);
    const c = pod.config;
    const nsOpts = c.linux?.securityContext?.namespaceOptions;
    const status = create(PodSandboxStatusSchema, {
      id: pod.id,
      metadata: c.metadata,
      state: st.ready ? PodSandboxState.SANDBOX_READY : PodSandboxState.SANDBOX_NOTREADY,
      createdAt: nsOf(pod.createdAtMs),
      network: { ip: nsOpts?.network === NamespaceMode.NODE ? "" : st.ip, additionalIps: [] },
      linux: {
        namespaces: {
          options: {
            network: nsOpts?.network ?? NamespaceMode.POD,
            pid: nsOpts?.pid ?? NamespaceMode.POD,
            ipc: nsOpts?.ipc ?? NamespaceMode.POD,
            targetId: nsOpts?.targetId ?? "",
          },
        },
      },
      labels: c.labels,
      annotations: c.annotations,
      runtimeHandler: pod.handler,
    });
    return { status, info: st.info };
  }

  async summaries(ctx: Ctx, filter: PodSandboxFilter | undefined): Promise<PodSandbox[]> {
    const out: PodSandbox[] = [];
    const all = await this.list(ctx);
    const id = resolveId(
      filter?.id ?? "",
      all.map((p) => p.id),
    );
    for (const pod of all) {
      if (!idMatches(pod.id, id)) continue;
      if (!labelsMatch(pod.config.labels, filter?.labelSelector)) continue;
      const st = await this.state(ctx, pod);
      const state = st.ready ? PodSandboxState.SANDBOX_READY : PodSandboxState.SANDBOX_NOTREADY;
      if (filter?.state && filter.state.state !== state) continue;
      out.push(
        create(PodSandboxSchema, {
          id: pod.id,
          metadata: pod.config.metadata,
          state,
          createdAt: nsOf(pod.createdAtMs),
          labels: pod.config.labels,
          annotations: pod.config.annotations,
          runtimeHandler: pod.handler,
        }),
      );
    }
    return out;
  }
}
