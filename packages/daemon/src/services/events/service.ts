/**
 * Adapters for events: gRPC containerd.services.events.v1.Events (clients)
 * and ttrpc containerd.services.events.ttrpc.v1.Events (shims forwarding).
 */
import type { ServiceImpl } from "@sandboxd/grpc";
import type { ServiceImpl as TtrpcServiceImpl } from "@sandboxd/ttrpc";
import { Events } from "@sandboxd/api/services/events/v1/events_pb";
import { Events as TtrpcEvents } from "@sandboxd/api/services/ttrpc/events/v1/events_pb";
import type { CtxOf, TtrpcCtxOf } from "../../server/rpc.js";
import type { EventsLocal } from "./local.js";

export function eventsService(local: EventsLocal, ctxOf: CtxOf): ServiceImpl<typeof Events> {
  return {
    publish: (req, call) => local.publish(ctxOf(call), req),
    forward: (req, call) => local.forward(ctxOf(call), req),
    subscribe: (req, call) => local.subscribe(ctxOf(call), req),
  };
}

export function ttrpcEventsService(
  local: EventsLocal,
  ctxOf: TtrpcCtxOf,
): TtrpcServiceImpl<typeof TtrpcEvents> {
  return {
    forward: (req, call) => local.forward(ctxOf(call), req),
  };
}

export { Events, TtrpcEvents };
