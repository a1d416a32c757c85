/**
 * ttrpc `containerd.runtime.sandbox.v1.Sandbox` on the task socket: the shim
 * sandbox API, for containerd's `shim` sandbox controller and for sandboxd.
 * Same behaviour as the gRPC Controller (one SandboxApi behind both).
 */
import { ts } from "../util/time.js";
import { Sandbox } from "@sandboxd/api/runtime/sandbox/v1/sandbox_pb";
import type { Ctx } from "@sandboxd/core";
import { namespaceRequired, withLogFields } from "@sandboxd/core";
import type { HandlerContext, Server, ServiceImpl } from "@sandboxd/ttrpc";
import { ttrpcCtx } from "./context.js";
import type { SandboxApi } from "./sandbox-api.js";

export function registerSandboxService(server: Server, root: Ctx, api: SandboxApi): void {
  server.register(Sandbox, sandboxService(root, api));
}

function scope(root: Ctx, call: HandlerContext, id: string): { ctx: Ctx; ns: string } {
  const base = ttrpcCtx(root, call);
  const ns = namespaceRequired(base);
  return { ctx: withLogFields(base, { sandbox_id: id }), ns };
}

export function sandboxService(root: Ctx, api: SandboxApi): ServiceImpl<typeof Sandbox> {
  return {
    async createSandbox(req, call) {
      const { ctx, ns } = scope(root, call, req.sandboxId);
      await api.create(ctx, ns, {
        id: req.sandboxId,
        netnsPath: req.netnsPath,
        annotations: { ...req.annotations },
        labels: {},
        bundlePath: req.bundlePath,
        options: req.options,
      });
      return {};
    },
    async startSandbox(req, call) {
      const { ctx, ns } = scope(root, call, req.sandboxId);
      const r = await api.start(ctx, ns, req.sandboxId);
      return { pid: r.pid, createdAt: ts(r.createdAt) };
    },
    platform(req, call) {
      const { ns } = scope(root, call, req.sandboxId);
      return { platform: api.platform(ns, req.sandboxId) };
    },
    async stopSandbox(req, call) {
      const { ctx, ns } = scope(root, call, req.sandboxId);
      await api.stop(ctx, ns, req.sandboxId, req.timeoutSecs);
      return {};
    },
    async waitSandbox(req, call) {
      const { ctx, ns } = scope(root, call, req.sandboxId);
      const r = await api.wait(ctx, ns, req.sandboxId);
      return { exitStatus: r.exitStatus, exitedAt: ts(r.exitedAt) };
    },
    sandboxStatus(req, call) {
      const { ns } = scope(root, call, req.sandboxId);
      const s = api.status(ns, req.sandboxId);
      return {
        sandboxId: s.id,
        pid: s.pid,
        state: s.state,
        info: s.info,
        createdAt: ts(s.createdAt),
        ...(s.exitedAt !== undefined ? { exitedAt: ts(s.exitedAt) } : {}),
      };
    },
    pingSandbox(req, call) {
      const { ns } = scope(root, call, req.sandboxId);
      api.status(ns, req.sandboxId);
      return {};
    },
    async shutdownSandbox(req, call) {
      const { ctx, ns } = scope(root, call, req.sandboxId);
      await api.shutdown(ctx, ns, req.sandboxId);
      return {};
    },
    async sandboxMetrics(req, call) {
      const { ns } = scope(root, call, req.sandboxId);
      return { metrics: await api.metrics(ns, req.sandboxId) };
    },
  };
}
