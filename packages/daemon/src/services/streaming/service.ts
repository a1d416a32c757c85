/**
 * gRPC adapter for containerd.services.streaming.v1.Streaming: the first
 * message must be StreamInit{id}; the stream is registered and answered with
 * Any(google.protobuf.Empty); then client messages feed the stream's inbound
 * queue and whatever the daemon sends on it goes back, until the daemon
 * closes it (the call ends OK) or the client goes away.
 */
import type { Any } from "@bufbuild/protobuf/wkt";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@sandboxd/grpc";
import { pack, unpackAs } from "@sandboxd/api/names";
import { StreamInitSchema, Streaming } from "@sandboxd/api/services/streaming/v1/streaming_pb";
import { namespaceRequired } from "@sandboxd/core";
import { invalidArgument } from "@sandboxd/errdefs";
import type { CtxOf } from "../../server/rpc.js";
import { ServerStream, type StreamManager } from "./manager.js";

export function streamingService(
  manager: StreamManager,
  ctxOf: CtxOf,
): ServiceImpl<typeof Streaming> {
  return {
    async *stream(requests, call) {
      const ns = namespaceRequired(ctxOf(call));
      const it = requests[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done) return;
      const init = unpackAs(first.value, StreamInitSchema);
      if (!init?.id) {
        throw invalidArgument(
          `the first message of a stream must be a containerd.services.streaming.v1.StreamInit with an id, got ${JSON.stringify(first.value.typeUrl)}`,
        );
      }
      const stream = new ServerStream();
      const unregister = manager.register(ns, init.id, stream);
      const pump = (async () => {
        try {
          for (;;) {
            const next = await it.next();
            if (next.done) break;
            stream.inbound.push(next.value);
          }
        } catch {
          // The client went away: readers see the end.
        } finally {
          stream.inbound.end();
        }
      })();
      try {
        yield pack(EmptySchema, {});
        for (;;) {
          const out: Any | undefined = await stream.outbound.next(call.signal);
          if (!out) break;
          yield out;
        }
      } finally {
        unregister();
        stream.inbound.end();
        void pump;
      }
    },
  };
}

export { Streaming };
