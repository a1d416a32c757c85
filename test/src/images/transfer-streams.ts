// The client side of streaming.v1 as containerd 2.x's ctr opens it (core/streaming/proxy):
// Streaming.Stream, first message Any(StreamInit{id}), one reply Any(google.protobuf.Empty)
// once the daemon has registered the stream, then messages both ways.
import assert from "node:assert/strict";
import type { Any } from "@bufbuild/protobuf/wkt";
import type { Channel } from "@sandboxd/grpc";
import { pack, unpackAs } from "@sandboxd/api/names";
import { StreamInitSchema, Streaming } from "@sandboxd/api/services/streaming/v1/streaming_pb";
import { ProgressSchema, type Progress } from "@sandboxd/api/types/transfer/progress_pb";

/** A queue that feeds a bidi call's requests. */
export function outbox(): { push(a: Any): void; end(): void; iterable: AsyncIterable<Any> } {
  const items: Any[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  return {
    push: (a) => {
      items.push(a);
      wake?.();
    },
    end: () => {
      ended = true;
      wake?.();
    },
    iterable: {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const next = items.shift();
          if (next) yield next;
          else if (ended) return;
          else await new Promise<void>((r) => (wake = r));
        }
      },
    },
  };
}

export interface OpenStream {
  /** Sends a message to the daemon. */
  readonly send: (a: Any) => void;
  /** The daemon's next message; undefined at its EOF. */
  readonly recv: () => Promise<Any | undefined>;
  /** Half-closes the client's side. */
  readonly end: () => void;
}

/** A registered stream: returns once the daemon acknowledged the StreamInit. */
export async function openStream(
  channel: Channel,
  id: string,
  namespace: string,
): Promise<OpenStream> {
  const out = outbox();
  out.push(pack(StreamInitSchema, { id }));
  const call = channel
    .client(Streaming)
    .stream(out.iterable, { metadata: { "containerd-namespace": namespace } });
  const replies = call[Symbol.asyncIterator]();
  const ack = await replies.next();
  assert.equal(ack.done, false);
  assert.equal(ack.value?.typeUrl, "google.protobuf.Empty");
  return {
    send: (a) => out.push(a),
    recv: async () => {
      const next = await replies.next();
      return next.done ? undefined : next.value;
    },
    end: () => out.end(),
  };
}

/** A registered progress stream; resolves to every Progress until the daemon's EOF. */
export async function progressStream(
  channel: Channel,
  id: string,
  namespace: string,
): Promise<{ events: Promise<Progress[]> }> {
  const stream = await openStream(channel, id, namespace);
  // Wrapped: an async function returning a bare promise would wait for it.
  const events = (async () => {
    const events: Progress[] = [];
    for (;;) {
      const next = await stream.recv();
      if (!next) break;
      const p = unpackAs(next, ProgressSchema);
      if (p) events.push(p);
    }
    stream.end();
    return events;
  })();
  return { events };
}
