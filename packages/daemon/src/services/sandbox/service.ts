/**
 * gRPC adapters for containerd.services.sandbox.v1.Store and .Controller:
 * build Ctx → local. `sandboxd-force: true` (or `1`) on Store.Delete and
 * Controller.Shutdown asks for a forced removal (the wire has no field for it).
 */
import type { ServerCall, ServiceImpl } from "@sandboxd/grpc";
import { Controller, Store } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import type { CtxOf } from "../../server/rpc.js";
import type { SandboxControllerLocal } from "./controller-local.js";
import type { SandboxStoreLocal } from "./store-local.js";

/** The request header that forces Controller.Shutdown / Store.Delete. */
const forceHeader = "sandboxd-force";

function forced(call: ServerCall): boolean {
  const value = call.header(forceHeader)?.trim().toLowerCase();
  return value === "true" || value === "1";
}

export function sandboxStoreService(
  local: SandboxStoreLocal,
  ctxOf: CtxOf,
): ServiceImpl<typeof Store> {
  return {
    create: (req, call) => local.create(ctxOf(call), req),
    update: (req, call) => local.update(ctxOf(call), req),
    delete: (req, call) => local.delete(ctxOf(call), req, forced(call)),
    list: (req, call) => local.list(ctxOf(call), req),
    get: (req, call) => local.get(ctxOf(call), req),
  };
}

export function sandboxControllerService(
  local: SandboxControllerLocal,
  ctxOf: CtxOf,
): ServiceImpl<typeof Controller> {
  return {
    create: (req, call) => local.create(ctxOf(call), req),
    start: (req, call) => local.start(ctxOf(call), req),
    platform: (req, call) => local.platform(ctxOf(call), req),
    stop: (req, call) => local.stop(ctxOf(call), req),
    wait: (req, call) => local.wait(ctxOf(call), req),
    status: (req, call) => local.status(ctxOf(call), req),
    shutdown: (req, call) => local.shutdown(ctxOf(call), req, forced(call)),
    metrics: (req, call) => local.metrics(ctxOf(call), req),
    update: (req, call) => local.update(ctxOf(call), req),
  };
}

export { Controller, Store };
