/** gRPC adapter for containerd.services.containers.v1.Containers: convert → local. */
import type { ServiceImpl } from "@sandboxd/grpc";
import { Containers } from "@sandboxd/api/services/containers/v1/containers_pb";
import type { CtxOf } from "../../server/rpc.js";
import type { ContainersLocal } from "./local.js";

export function containersService(
  local: ContainersLocal,
  ctxOf: CtxOf,
): ServiceImpl<typeof Containers> {
  return {
    get: (req, call) => local.get(ctxOf(call), req),
    list: (req, call) => local.list(ctxOf(call), req),
    listStream: (req, call) => local.listStream(ctxOf(call), req),
    create: (req, call) => local.create(ctxOf(call), req),
    update: (req, call) => local.update(ctxOf(call), req),
    delete: (req, call) => local.delete(ctxOf(call), req),
  };
}

export { Containers };
