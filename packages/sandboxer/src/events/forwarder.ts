/**
 * Task events to the clients' events endpoints, the way containerd's shims send
 * them: `containerd.services.events.ttrpc.v1.Events/Forward` with an Envelope
 * (timestamp, namespace, topic, Any with a bare type URL). One queue per
 * endpoint keeps each endpoint's events in the order they were published (so
 * /tasks/exit never overtakes /tasks/start). Sending never blocks a task
 * operation: publish() only enqueues. A failed send is retried with a growing
 * delay and dropped after a few attempts, like containerd's publisher.
 */
import { create } from "@bufbuild/protobuf";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { ts } from "../util/time.js";
import type { Any } from "@bufbuild/protobuf/wkt";
import { pack } from "@sandboxd/api/names";
import type { Envelope } from "@sandboxd/api/types/event_pb";
import { EnvelopeSchema } from "@sandboxd/api/types/event_pb";
import { Events } from "@sandboxd/api/services/ttrpc/events/v1/events_pb";
import type { Logger } from "@sandboxd/core";
import type { Client, TypedClient } from "@sandboxd/ttrpc";
import { connect, createClient } from "@sandboxd/ttrpc";

export interface EventPublisher {
  publish<D extends DescMessage>(
    namespace: string,
    topic: string,
    schema: D,
    event: MessageInitShape<D>,
  ): void;
}

export interface ForwarderOptions {
  log: Logger;
  /** Endpoints (ttrpc socket paths) that should get events of `namespace`. */
  targets: (namespace: string) => readonly string[];
  /**
   * Gets every event, in order, as it is published: the daemon hosting the
   * sandboxer in its own process (sandboxd's in-process mode), in place of
   * an `events_address` it would reach over its own socket.
   */
  local?: (envelope: Envelope) => void;
  maxQueue?: number;
  maxAttempts?: number;
  /** Delay before retry n (1-based); default 250 ms × n. */
  retryDelayMs?: (attempt: number) => number;
  sendTimeoutMs?: number;
}

export class Forwarder implements EventPublisher {
  readonly #options: ForwarderOptions;
  readonly #queues = new Map<string, EndpointQueue>();
  #closed = false;

  constructor(options: ForwarderOptions) {
    this.#options = options;
  }

  publish<D extends DescMessage>(
    namespace: string,
    topic: string,
    schema: D,
    event: MessageInitShape<D>,
  ): void {
    this.publishAny(namespace, topic, pack(schema, event));
  }

  publishAny(namespace: string, topic: string, event: Any): void {
    if (this.#closed) return;
    const envelope = create(EnvelopeSchema, { timestamp: ts(Date.now()), namespace, topic, event });
    this.#options.local?.(envelope);
    for (const address of this.#options.targets(namespace)) {
      let queue = this.#queues.get(address);
      if (!queue) {
        queue = new EndpointQueue(address, this.#options);
        this.#queues.set(address, queue);
      }
      queue.push(envelope);
    }
  }

  /** Resolves when every queue is empty (or `timeoutMs` passed); for tests and shutdown. */
  async flush(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && [...this.#queues.values()].some((q) => q.pending > 0)) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#queues.values()].map((q) => q.close()));
    this.#queues.clear();
  }
}

class EndpointQueue {
  readonly #address: string;
  readonly #options: ForwarderOptions;
  readonly #queue: Envelope[] = [];
  #client: { conn: Client; events: TypedClient<typeof Events> } | undefined;
  #running = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;

  constructor(address: string, options: ForwarderOptions) {
    this.#address = address;
    this.#options = options;
  }

  get pending(): number {
    return this.#queue.length;
  }

  push(envelope: Envelope): void {
    const max = this.#options.maxQueue ?? 2048;
    if (this.#queue.length >= max) {
      const dropped = this.#queue.shift();
      this.#options.log.warn(
        { address: this.#address, topic: dropped?.topic },
        "event queue full: dropped oldest event",
      );
    }
    this.#queue.push(envelope);
    if (!this.#running) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#running = true;
    let attempt = 0;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const envelope = this.#queue[0];
        if (!envelope) break;
        try {
          await this.#send(envelope);
          this.#queue.shift();
          attempt = 0;
        } catch (err) {
          attempt++;
          this.#dropClient();
          if (attempt >= (this.#options.maxAttempts ?? 5)) {
            this.#queue.shift();
            this.#options.log.warn(
              { address: this.#address, topic: envelope.topic, error: err },
              "dropped event after repeated forward failures",
            );
            attempt = 0;
            continue;
          }
          await this.#sleep((this.#options.retryDelayMs ?? ((n: number) => 250 * n))(attempt));
        }
      }
    } finally {
      this.#running = false;
    }
  }

  async #send(envelope: Envelope): Promise<void> {
    if (!this.#client) {
      const conn = await connect(this.#address, {
        timeoutMs: 2000,
        onClose: () => this.#dropClient(),
      });
      this.#client = { conn, events: createClient(conn, Events) };
    }
    await this.#client.events.forward(
      { envelope },
      { timeoutMs: this.#options.sendTimeoutMs ?? 5000 },
    );
  }

  #dropClient(): void {
    const c = this.#client;
    this.#client = undefined;
    if (c && !c.conn.closed) void c.conn.close().catch(() => undefined);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
      this.#timer.unref();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#wake?.();
    this.#dropClient();
    await Promise.resolve();
  }
}
