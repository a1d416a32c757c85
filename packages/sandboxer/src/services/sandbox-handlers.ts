/**
 * The answers that the gRPC Controller (controller-grpc.ts) and the ttrpc
 * Sandbox service (sandbox-ttrpc.ts) give alike, from one SandboxApi. Each
 * transport builds its own call scope and adds what only it takes or returns
 * (the Controller's record and task address, ttrpc's bundle, update).
 */
import type { Any } from "@bufbuild/protobuf/wkt";
import type { Ctx } from "@sandboxd/core";
import { ts } from "../util/time.js";
import type { CreateArgs, SandboxApi } from "./sandbox-api.js";

/** A call's context and namespace, as each transport derives them. */
export interface CallScope {
  ctx: Ctx;
  ns: string;
}

/** The create request fields both transports carry. */
interface CreateRequest {
  sandboxId: string;
  netnsPath: string;
  annotations: Record<string, string>;
  options?: Any | undefined;
}

export function sandboxHandlers(api: SandboxApi) {
  return {
    async create(
      { ctx, ns }: CallScope,
      req: CreateRequest,
      own: Pick<CreateArgs, "labels" | "spec" | "bundlePath">,
    ) {
      await api.create(ctx, ns, {
        id: req.sandboxId,
        netnsPath: req.netnsPath,
        annotations: { ...req.annotations },
        options: req.options,
        ...own,
      });
    },
    async start({ ctx, ns }: CallScope, id: string) {
      const r = await api.start(ctx, ns, id);
      return { pid: r.pid, createdAt: ts(r.createdAt), labels: r.labels };
    },
    platform({ ns }: CallScope, id: string) {
      return { platform: api.platform(ns, id) };
    },
    async stop({ ctx, ns }: CallScope, id: string, timeoutSecs: number) {
      await api.stop(ctx, ns, id, timeoutSecs);
      return {};
    },
    async wait({ ctx, ns }: CallScope, id: string) {
      const r = await api.wait(ctx, ns, id);
      return { exitStatus: r.exitStatus, exitedAt: ts(r.exitedAt) };
    },
    status({ ns }: CallScope, id: string) {
      const s = api.status(ns, id);
      return {
        sandboxId: s.id,
        pid: s.pid,
        state: s.state,
        info: s.info,
        createdAt: ts(s.createdAt),
        ...(s.exitedAt !== undefined ? { exitedAt: ts(s.exitedAt) } : {}),
      };
    },
    async shutdown({ ctx, ns }: CallScope, id: string) {
      await api.shutdown(ctx, ns, id);
      return {};
    },
    async metrics({ ns }: CallScope, id: string) {
      return { metrics: await api.metrics(ns, id) };
    },
  };
}
