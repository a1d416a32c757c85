/**
 * Events policy (containerd services/events/service.go): Publish stamps an
 * event in the caller's namespace, Forward relays a whole envelope after
 * validation, Subscribe streams from every namespace unless filtered. The
 * same Forward serves shims over ttrpc.
 */
import { invalidArgument } from "@sandboxd/errdefs";
import type { Ctx } from "@sandboxd/core";
import type { Envelope } from "@sandboxd/api/types/event_pb";
import type {
  ForwardRequest,
  PublishRequest,
  SubscribeRequest,
} from "@sandboxd/api/services/events/v1/events_pb";
import type { Exchange } from "../../events/exchange.js";
import { empty, type Empty } from "../reply.js";

export class EventsLocal {
  readonly #exchange: Exchange;
  readonly #accept: (envelope: Envelope) => boolean;

  /** `accept` may drop a forwarded envelope (a duplicate exit from a shim's retry). */
  constructor(exchange: Exchange, accept: (envelope: Envelope) => boolean = () => true) {
    this.#exchange = exchange;
    this.#accept = accept;
  }

  publish(ctx: Ctx, req: PublishRequest): Empty {
    if (!req.event)
      throw invalidArgument(`event for topic ${JSON.stringify(req.topic)} must be set`);
    this.#exchange.publish(ctx, req.topic, req.event);
    return empty;
  }

  forward(ctx: Ctx, req: Pick<ForwardRequest, "envelope">): Empty {
    if (!req.envelope) throw invalidArgument("envelope must be set");
    if (this.#accept(req.envelope)) this.#exchange.forward(ctx, req.envelope);
    return empty;
  }

  subscribe(ctx: Ctx, req: SubscribeRequest): AsyncIterable<Envelope> {
    return this.#exchange.subscribe(ctx.signal, req.filters);
  }
}
