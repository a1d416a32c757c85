/**
 * The event exchange (containerd events/exchange): `publish` stamps and sends
 * an event from this process, `forward` relays an envelope made elsewhere (a
 * shim, `sandboxd publish`) after validating it, and `subscribe` streams
 * matching envelopes from every namespace to one subscriber.
 *
 * Delivery is in memory, in order, per subscriber. A subscriber that falls
 * more than `maxQueue` events behind is dropped (its stream ends with
 * ResourceExhausted) rather than letting the daemon's memory grow.
 */
import { create } from "@bufbuild/protobuf";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs, type Any } from "@bufbuild/protobuf/wkt";
import { invalidArgument, messageOf, resourceExhausted, wrap } from "@sandboxd/errdefs";
import {
  namespaceRequired,
  parseFilters,
  validateIdentifier,
  type Ctx,
  type Filter,
} from "@sandboxd/core";
import { pack } from "@sandboxd/api";
import { EnvelopeSchema, type Envelope } from "@sandboxd/api/types/event_pb";
import { envelopeAdaptor } from "./adaptor.js";

/** What services need to emit events. */
export interface Publisher {
  /** Publishes `event` under the context's namespace (required), stamped now. */
  publish(ctx: Ctx, topic: string, event: Any): void;
}

/** Packs a typed event and publishes it. */
export function publishEvent<Desc extends DescMessage>(
  publisher: Publisher,
  ctx: Ctx,
  topic: string,
  schema: Desc,
  event: MessageInitShape<Desc>,
): void {
  publisher.publish(ctx, topic, pack(schema, event));
}

export type EventListener = (envelope: Envelope) => void;

interface Subscriber {
  readonly filter: Filter;
  readonly queue: Envelope[];
  wake: (() => void) | undefined;
  error: Error | undefined;
}

export class Exchange implements Publisher {
  readonly #subscribers = new Set<Subscriber>();
  readonly #listeners = new Set<EventListener>();
  readonly #maxQueue: number;

  constructor(options: { maxQueue?: number } = {}) {
    this.#maxQueue = options.maxQueue ?? 16_384;
  }

  publish(ctx: Ctx, topic: string, event: Any): void {
    let namespace: string;
    try {
      namespace = namespaceRequired(ctx);
    } catch (err) {
      throw wrap(err, "failed publishing event");
    }
    validateTopic(topic);
    const envelope = create(EnvelopeSchema, {
      timestamp: timestampFromMs(Date.now()),
      namespace,
      topic,
      event,
    });
    this.#write(envelope);
    ctx.log.debug({ topic, type: event.typeUrl }, "event published");
  }

  /** Relays an envelope published elsewhere; InvalidArgument if it is malformed. */
  forward(ctx: Ctx, envelope: Envelope): void {
    validateEnvelope(envelope);
    this.#write(envelope);
    ctx.log.debug(
      { topic: envelope.topic, ns: envelope.namespace, type: envelope.event?.typeUrl },
      "event forwarded",
    );
  }

  /**
   * Envelopes matching any of `filters` (all when none), until `signal` aborts.
   * Filters are parsed before the first event: a bad filter throws at once.
   */
  subscribe(signal: AbortSignal, filters: readonly string[] = []): AsyncIterable<Envelope> {
    const filter = parseFilters(filters);
    const sub: Subscriber = { filter, queue: [], wake: undefined, error: undefined };
    this.#subscribers.add(sub);
    const stop = (): void => {
      this.#subscribers.delete(sub);
      sub.wake?.();
    };
    signal.addEventListener("abort", stop, { once: true });
    return this.#drain(sub, signal, stop);
  }

  async *#drain(sub: Subscriber, signal: AbortSignal, stop: () => void): AsyncGenerator<Envelope> {
    try {
      for (;;) {
        const next = sub.queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (sub.error) throw sub.error;
        if (signal.aborted || !this.#subscribers.has(sub)) return;
        await new Promise<void>((resolve) => (sub.wake = resolve));
        sub.wake = undefined;
      }
    } finally {
      signal.removeEventListener("abort", stop);
      this.#subscribers.delete(sub);
    }
  }

  /** In-process observers (task state, metrics); called synchronously for every event. */
  listen(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Ends every subscription (daemon shutdown): their streams finish normally. */
  close(): void {
    for (const sub of this.#subscribers) {
      this.#subscribers.delete(sub);
      sub.wake?.();
    }
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  #write(envelope: Envelope): void {
    for (const listener of this.#listeners) listener(envelope);
    if (this.#subscribers.size === 0) return;
    const adaptor = envelopeAdaptor(envelope);
    for (const sub of this.#subscribers) {
      if (!sub.filter(adaptor)) continue;
      if (sub.queue.length >= this.#maxQueue) {
        sub.error = resourceExhausted(
          `event subscriber fell more than ${this.#maxQueue} events behind`,
        );
        this.#subscribers.delete(sub);
      } else {
        sub.queue.push(envelope);
      }
      sub.wake?.();
    }
  }
}

/** containerd's validateTopic: `/a/b`, each component an identifier. */
export function validateTopic(topic: string): void {
  const fail = (why: string): never => {
    throw invalidArgument(`envelope topic ${JSON.stringify(topic)}: ${why}`);
  };
  if (topic === "") fail("must not be empty");
  if (!topic.startsWith("/")) fail("must start with '/'");
  if (topic.length === 1) fail("must have at least one component");
  for (const component of topic.slice(1).split("/")) {
    try {
      validateIdentifier(component);
    } catch (err) {
      fail(`failed validation on component ${JSON.stringify(component)}: ${messageOf(err)}`);
    }
  }
}

/** containerd's validateEnvelope: namespace, topic, timestamp set. */
export function validateEnvelope(envelope: Envelope): void {
  try {
    validateIdentifier(envelope.namespace);
  } catch (err) {
    throw wrap(err, "event envelope has invalid namespace");
  }
  validateTopic(envelope.topic);
  const ts = envelope.timestamp;
  if (!ts || (ts.seconds === 0n && ts.nanos === 0)) {
    throw invalidArgument("timestamp must be set on forwarded event");
  }
}
