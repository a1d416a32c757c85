/**
 * gRPC `containerd.services.sandbox.v1.Controller`: what containerd 2.x calls for
 * a `[proxy_plugins.X] type = "sandbox"` and what sandboxd calls. The namespace
 * is the `containerd-namespace` header. Start and Status return the task
 * address (`ttrpc+unix://…`) with version 3, so containerd ≥ 2.1 talks to the
 * sandboxer's task service directly, without a shim binary.
 */
import { ts } from "../util/time.js";
import { Controller } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import type { Ctx } from "@sandboxd/core";
import { namespaceRequired, withLogFields } from "@sandboxd/core";
import type { GrpcServer, ServerCall, ServiceImpl } from "@sandboxd/grpc";
import { grpcNamespaceKey } from "./context.js";
import type { SandboxApi } from "./sandbox-api.js";
import { taskApiVersion } from "./sandbox-api.js";

export function registerController(server: GrpcServer, root: Ctx, api: SandboxApi): void {
  server.register(Controller, controllerService(root, api));
}

function scope(root: Ctx, call: ServerCall, id: string): { ctx: Ctx; ns: string } {
  const namespace = call.header(grpcNamespaceKey) || undefined;
  const base: Ctx = { signal: call.signal, deadline: call.deadline, namespace, log: root.log };
  const ns = namespaceRequired(base);
  return { ctx: withLogFields(base, { namespace: ns, sandbox_id: id }), ns };
}

export function controllerService(root: Ctx, api: SandboxApi): ServiceImpl<typeof Controller> {
  return {
    async create(req, call) {
      const { ctx, ns } = scope(root, call, req.sandboxId);
      await api.create(ctx, ns, {
        id: req.sandboxId,
        netnsPath: req.netnsPath,
        annotations: { ...req.annotations },
        labels: { ...(req.sandbox?.labels ?? {}) },
        spec: req.sandbox?.spec,
        options: req.options,
      });
      return { sandboxId: req.sandboxId };
    },
    async start(req, call) {
      const { ctx, ns } = scope(root, call, req.sandboxId);
      const r = await api.start(ctx, ns, req.sandboxId);
      return {
        sandboxId: req.sandboxId,
        pid: r.pid,
        createdAt: ts(r.createdAt),
        labels: r.labels,
        address: api.taskAddress,
        version: taskApiVersion,
      };
    },
    platform(req, call) {
      const { ns } = scope(root, call, req.sandboxId);
      return { platform: api.platform(ns, req.sandboxId) };
    },
    async stop(req, call) {
      const { ctx, ns } = scope(root, call, req.sandboxId);
      await api.stop(ctx, ns, req.sandboxId, req.timeoutSecs);
      return {};
    },
    async wait(req, call) {
      const { ctx, ns } = scope(root, call, req.sandboxId);
      const r = await api.wait(ctx, ns, req.sandboxId);
      return { exitStatus: r.exitStatus, exitedAt: ts(r.exitedAt) };
    },
    status(req, call) {
      const { ns } = scope(root, call, req.sandboxId);
      const s = api.status(ns, req.sandboxId);
      return {
        sandboxId: s.id,
        pid: s.pid,
        state: s.state,
        info: s.info,
        createdAt: ts(s.createdAt),
        ...(s.exitedAt !== undefined ? { exitedAt: ts(s.exitedAt) } : {}),
        address: api.taskAddress,
        version: taskApiVersion,
      };
    },
    async shutdown(req, call) {
      const { ctx, ns } = scope(root, call, req.sandboxId);
      await api.shutdown(ctx, ns, req.sandboxId);
      return {};
    },
    async metrics(req, call) {
      const { ns } = scope(root, call, req.sandboxId);
      return { metrics: await api.metrics(ns, req.sandboxId) };
    },
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
