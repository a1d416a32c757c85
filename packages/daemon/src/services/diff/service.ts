/** gRPC adapter for containerd.services.diff.v1.Diff: convert → local. */
import type { ServiceImpl } from "@sandboxd/grpc";
import { Diff } from "@sandboxd/api/services/diff/v1/diff_pb";
import type { CtxOf } from "../../server/rpc.js";
import type { DiffLocal } from "./local.js";

export function diffService(local: DiffLocal, ctxOf: CtxOf): ServiceImpl<typeof Diff> {
  return {
    apply: (req, call) => local.apply(ctxOf(call), req),
    diff: (req, call) => local.diff(ctxOf(call), req),
  };
}

export { Diff };
