/** gRPC adapter for containerd.services.images.v1.Images: convert → local. */
import type { ServiceImpl } from "@sandboxd/grpc";
import { Images } from "@sandboxd/api/services/images/v1/images_pb";
import type { CtxOf } from "../../server/rpc.js";
import type { ImagesLocal } from "./local.js";

export function imagesService(local: ImagesLocal, ctxOf: CtxOf): ServiceImpl<typeof Images> {
  return {
    get: (req, call) => local.get(ctxOf(call), req),
    list: (req, call) => local.list(ctxOf(call), req),
    create: (req, call) => local.create(ctxOf(call), req),
    update: (req, call) => local.update(ctxOf(call), req),
    delete: (req, call) => local.delete(ctxOf(call), req),
  };
}

export { Images };
