/** gRPC adapter for containerd.services.snapshots.v1.Snapshots: convert → local. */
import type { ServiceImpl } from "@sandboxd/grpc";
import { Snapshots } from "@sandboxd/api/services/snapshots/v1/snapshots_pb";
import { leaseHeader, type CtxOf } from "../../server/rpc.js";
import type { SnapshotsLocal } from "./local.js";

export function snapshotsService(
  local: SnapshotsLocal,
  ctxOf: CtxOf,
): ServiceImpl<typeof Snapshots> {
  return {
    prepare: (req, call) => local.prepare(ctxOf(call), call.header(leaseHeader), req),
    view: (req, call) => local.view(ctxOf(call), call.header(leaseHeader), req),
    mounts: (req, call) => local.mounts(ctxOf(call), req),
    commit: (req, call) => local.commit(ctxOf(call), call.header(leaseHeader), req),
    remove: (req, call) => local.remove(ctxOf(call), req),
    stat: (req, call) => local.stat(ctxOf(call), req),
    update: (req, call) => local.update(ctxOf(call), req),
    list: (req, call) => local.list(ctxOf(call), req),
    usage: (req, call) => local.usage(ctxOf(call), req),
    cleanup: (req, call) => local.cleanup(ctxOf(call), req),
  };
}

export { Snapshots };
