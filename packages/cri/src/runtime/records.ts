/**
 * A CRI container as the daemon's Containers service stores it: the
 * ContainerConfig as a protobuf extension, the CRI state (times, exit,
 * log path) as a JSON extension updated through Containers.Update.
 */
import { create } from "@bufbuild/protobuf";
import {
  ContainerConfigSchema,
  ContainerState,
  type ContainerConfig,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import {
  GetContainerRequestSchema,
  ListContainersRequestSchema,
  UpdateContainerRequestSchema,
  ContainerSchema,
  type Container,
} from "@sandboxd/api/services/containers/v1/containers_pb";
import type { Ctx } from "@sandboxd/core";
import { notFound } from "@sandboxd/errdefs";
import type { Backend } from "../backend.js";
import { fromAny, fromJsonAny, jsonAny, matchId, msOfTs } from "./util.js";

export const configExtension = "sandboxd_cri_config";
export const stateExtension = "sandboxd_cri_state";
export const containerLabel = "io.sandboxd.cri.container";
const stateTypeUrl = "io.sandboxd.cri.ContainerState";

export interface CriState {
  sandboxId: string;
  logPath: string;
  /** The image id (config digest), or the local directory standing in for an image. */
  image: string;
  /** The rootfs is the snapshot keyed by the container id (a pulled image). */
  snapshot?: boolean;
  startedAt?: number;
  finishedAt?: number;
  exitCode?: number;
  reason?: string;
  message?: string;
  pid?: number;
  /** The process identity the spec runs it as (ContainerStatus.user). */
  user?: { uid: number; gid: number; groups: number[] };
}

export interface CriContainer {
  id: string;
  config: ContainerConfig;
  state: CriState;
  createdAtMs: number;
  record: Container;
}

export function stateOf(c: CriContainer): ContainerState {
  if (c.state.finishedAt) return ContainerState.CONTAINER_EXITED;
  if (c.state.startedAt) return ContainerState.CONTAINER_RUNNING;
  return ContainerState.CONTAINER_CREATED;
}

export function toCri(record: Container): CriContainer | undefined {
  const config = fromAny(ContainerConfigSchema, record.extensions[configExtension]);
  const state = fromJsonAny<CriState>(record.extensions[stateExtension]);
  if (!config || !state) return undefined;
  return { id: record.id, config, state, createdAtMs: msOfTs(record.createdAt), record };
}

export function stateAny(state: CriState) {
  return jsonAny(stateTypeUrl, state);
}

export class Records {
  readonly #b: Backend;
  constructor(b: Backend) {
    this.#b = b;
  }

  async list(ctx: Ctx): Promise<CriContainer[]> {
    const r = await this.#b.containers.list(ctx, create(ListContainersRequestSchema, {}));
    return (r.containers ?? [])
      .map((c) => toCri(create(ContainerSchema, c)))
      .filter((c): c is CriContainer => c !== undefined);
  }

  /** By id or unique id prefix; NotFound naming it. */
  async get(ctx: Ctx, id: string): Promise<CriContainer> {
    if (id) {
      try {
        const r = await this.#b.containers.get(ctx, create(GetContainerRequestSchema, { id }));
        const c = r.container && toCri(create(ContainerSchema, r.container));
        if (c) return c;
      } catch {
        // try prefixes below
      }
      const byPrefix = (await this.list(ctx)).filter((c) => matchId(c.id, id));
      if (byPrefix.length === 1 && byPrefix[0]) return byPrefix[0];
    }
    throw notFound(`an error occurred when try to find container ${JSON.stringify(id)}: not found`);
  }

  async setState(ctx: Ctx, id: string, state: CriState): Promise<void> {
    await this.#b.containers.update(
      ctx,
      create(UpdateContainerRequestSchema, {
        container: { id, extensions: { [stateExtension]: stateAny(state) } },
        updateMask: { paths: [`extensions.${stateExtension}`] },
      }),
    );
  }
}
