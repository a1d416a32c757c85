/** gRPC adapter for containerd.services.leases.v1.Leases: convert → local. */
import type { ServiceImpl } from "@sandboxd/grpc";
import { Leases } from "@sandboxd/api/services/leases/v1/leases_pb";
import type { CtxOf } from "../../server/rpc.js";
import type { LeasesLocal } from "./local.js";

export function leasesService(local: LeasesLocal, ctxOf: CtxOf): ServiceImpl<typeof Leases> {
  return {
    create: (req, call) => local.create(ctxOf(call), req),
    delete: (req, call) => local.delete(ctxOf(call), req),
    list: (req, call) => local.list(ctxOf(call), req),
    addResource: (req, call) => local.addResource(ctxOf(call), req),
    deleteResource: (req, call) => local.deleteResource(ctxOf(call), req),
    listResources: (req, call) => local.listResources(ctxOf(call), req),
  };
}

export { Leases };
