/**
 * ttrpc `containerd.runtime.sandbox.v1.Sandbox` on the task socket: the shim
 * sandbox API, for containerd's `shim` sandbox controller and for sandboxd.
 * Same behaviour as the gRPC Controller (one SandboxApi behind both).
 */
import { Sandbox } from "@sandboxd/api/runtime/sandbox/v1/sandbox_pb";
import type { Ctx } from "@sandboxd/core";
import { namespaceRequired, withLogFields } from "@sandboxd/core";
import type { HandlerContext, Server, ServiceImpl } from "@sandboxd/ttrpc";
import { ttrpcCtx } from "./context.js";
import type { SandboxApi } from "./sandbox-api.js";
import { sandboxHandlers, type CallScope } from "./sandbox-handlers.js";

export function registerSandboxService(server: Server, root: Ctx, api: SandboxApi): void {
  server.register(Sandbox, sandboxService(root, api));
}

function scope(root: Ctx, call: HandlerContext, id: string): CallScope {
  const base = ttrpcCtx(root, call);
  const ns = namespaceRequired(base);
  return { ctx: withLogFields(base, { sandbox_id: id }), ns };
}

function sandboxService(root: Ctx, api: SandboxApi): ServiceImpl<typeof Sandbox> {
  const answer = sandboxHandlers(api);
  return {
    async createSandbox(req, call) {
      await answer.create(scope(root, call, req.sandboxId), req, {
        labels: {},
        bundlePath: req.bundlePath,
      });
      return {};
    },
    async startSandbox(req, call) {
      const { pid, createdAt } = await answer.start(
        scope(root, call, req.sandboxId),
        req.sandboxId,
      );
      return { pid, createdAt };
    },
    platform: (req, call) => answer.platform(scope(root, call, req.sandboxId), req.sandboxId),
    stopSandbox: (req, call) =>
      answer.stop(scope(root, call, req.sandboxId), req.sandboxId, req.timeoutSecs),
    waitSandbox: (req, call) => answer.wait(scope(root, call, req.sandboxId), req.sandboxId),
    sandboxStatus: (req, call) => answer.status(scope(root, call, req.sandboxId), req.sandboxId),
    pingSandbox(req, call) {
      const { ns } = scope(root, call, req.sandboxId);
      api.status(ns, req.sandboxId);
      return {};
    },
    shutdownSandbox: (req, call) =>
      answer.shutdown(scope(root, call, req.sandboxId), req.sandboxId),
    sandboxMetrics: (req, call) => answer.metrics(scope(root, call, req.sandboxId), req.sandboxId),
  };
}
