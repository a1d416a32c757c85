/** gRPC adapter for containerd.services.content.v1.Content: convert → local. */
import type { ServiceImpl } from "@sandboxd/grpc";
import { Content } from "@sandboxd/api/services/content/v1/content_pb";
import { leaseHeader, type CtxOf } from "../../server/rpc.js";
import type { ContentLocal } from "./local.js";

export function contentService(local: ContentLocal, ctxOf: CtxOf): ServiceImpl<typeof Content> {
  return {
    info: (req, call) => local.info(ctxOf(call), req),
    update: (req, call) => local.update(ctxOf(call), req),
    list: (req, call) => local.list(ctxOf(call), req),
    delete: (req, call) => local.delete(ctxOf(call), req),
    read: (req, call) => local.read(ctxOf(call), req),
    status: (req, call) => local.status(ctxOf(call), req),
    listStatuses: (req, call) => local.listStatuses(ctxOf(call), req),
    write: (requests, call) => local.write(ctxOf(call), call.header(leaseHeader), requests),
    abort: (req, call) => local.abort(ctxOf(call), req),
  };
}

export { Content };
