/** gRPC adapter for containerd.services.namespaces.v1.Namespaces: convert → local. */
import type { ServiceImpl } from "@sandboxd/grpc";
import { Namespaces } from "@sandboxd/api/services/namespaces/v1/namespace_pb";
import type { CtxOf } from "../../server/rpc.js";
import type { NamespacesLocal } from "./local.js";

export function namespacesService(
  local: NamespacesLocal,
  ctxOf: CtxOf,
): ServiceImpl<typeof Namespaces> {
  return {
    get: (req, call) => local.get(ctxOf(call), req),
    list: (req, call) => local.list(ctxOf(call), req),
    create: (req, call) => local.create(ctxOf(call), req),
    update: (req, call) => local.update(ctxOf(call), req),
    delete: (req, call) => local.delete(ctxOf(call), req),
  };
}

export { Namespaces };
