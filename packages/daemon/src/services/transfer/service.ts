/** gRPC adapter for containerd.services.transfer.v1.Transfer: convert → local. */
import type { ServiceImpl } from "@sandboxd/grpc";
import { Transfer } from "@sandboxd/api/services/transfer/v1/transfer_pb";
import type { CtxOf } from "../../server/rpc.js";
import type { TransferLocal } from "./local.js";

export function transferService(local: TransferLocal, ctxOf: CtxOf): ServiceImpl<typeof Transfer> {
  return {
    transfer: async (req, call) => {
      await local.transfer(ctxOf(call), req);
      return {};
    },
  };
}

export { Transfer };
