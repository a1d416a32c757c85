/**
 * gRPC `containerd.services.sandbox.v1.Controller`: what containerd 2.x calls for
 * a `[proxy_plugins.X] type = "sandbox"` and what sandboxd calls. The namespace
 * is the `containerd-namespace` header. Start and Status return the task
 * address (`ttrpc+unix://…`) with version 3, so containerd ≥ 2.1 talks to the
 * sandboxer's task service directly, without a shim binary.
 */
import type { Controller } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import type { Ctx } from "@sandboxd/core";
import { callContext, grpcCallInfo, namespaceRequired } from "@sandboxd/core";
import type { ServerCall, ServiceImpl } from "@sandboxd/grpc";
import type { SandboxApi } from "./sandbox-api.js";
import { taskApiVersion } from "./sandbox-api.js";
import { sandboxHandlers, type CallScope } from "./sandbox-handlers.js";

function scope(root: Ctx, call: ServerCall, id: string): CallScope {
  const ctx = callContext(root, grpcCallInfo(call), { fields: { sandbox_id: id } });
  return { ctx, ns: namespaceRequired(ctx) };
}

/** The Controller's implementation: what the gRPC server serves, and what sandboxd calls in process. */
export function controllerService(root: Ctx, api: SandboxApi): ServiceImpl<typeof Controller> {
  const answer = sandboxHandlers(api);
  return {
    async create(req, call) {
      await answer.create(scope(root, call, req.sandboxId), req, {
        labels: { ...(req.sandbox?.labels ?? {}) },
        spec: req.sandbox?.spec,
      });
      return { sandboxId: req.sandboxId };
    },
    async start(req, call) {
      const r = await answer.start(scope(root, call, req.sandboxId), req.sandboxId);
      return {
        sandboxId: req.sandboxId,
        ...r,
        address: api.taskAddress,
        version: taskApiVersion,
      };
    },
    platform: (req, call) => answer.platform(scope(root, call, req.sandboxId), req.sandboxId),
    stop: (req, call) =>
      answer.stop(scope(root, call, req.sandboxId), req.sandboxId, req.timeoutSecs),
    wait: (req, call) => answer.wait(scope(root, call, req.sandboxId), req.sandboxId),
    status: (req, call) => ({
      ...answer.status(scope(root, call, req.sandboxId), req.sandboxId),
      address: api.taskAddress,
      version: taskApiVersion,
    }),
    shutdown: (req, call) => answer.shutdown(scope(root, call, req.sandboxId), req.sandboxId),
    metrics: (req, call) => answer.metrics(scope(root, call, req.sandboxId), req.sandboxId),
    async update(req, call) {
      const { ns } = scope(root, call, req.sandboxId);
      await api.update(
        ns,
        req.sandboxId,
        req.sandbox ? { ...req.sandbox.labels } : undefined,
        req.fields,
      );
      return {};
    },
  };
}
