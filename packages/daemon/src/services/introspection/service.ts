/** gRPC adapter for containerd.services.introspection.v1.Introspection: convert → local. */
import type { ServiceImpl } from "@sandboxd/grpc";
import { Introspection } from "@sandboxd/api/services/introspection/v1/introspection_pb";
import type { CtxOf } from "../../server/rpc.js";
import type { IntrospectionLocal } from "./local.js";

export function introspectionService(
  local: IntrospectionLocal,
  ctxOf: CtxOf,
): ServiceImpl<typeof Introspection> {
  return {
    plugins: (req, call) => local.plugins(ctxOf(call), req),
    server: (_req, call) => local.server(ctxOf(call)),
  };
}

export { Introspection };
