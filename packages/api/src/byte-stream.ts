/**
 * Byte streams over containerd's streaming.v1 (core/transfer/streaming/stream.go),
 * one implementation for both ends (the SDK's image import/export, the daemon's
 * transfer service): the receiver grants 64 KiB with WindowUpdate whenever its
 * window is below that; the sender sends Data of at most 32 KiB while it has
 * credit, then closes the stream.
 */
import type { Any } from "@bufbuild/protobuf/wkt";
import { DataSchema, WindowUpdateSchema } from "./gen/types/transfer/streaming_pb.js";
import { pack, unpackAs } from "./names.js";

export const maxChunk = 32 * 1024;
export const windowSize = 2 * maxChunk;

/** Either end of a registered stream, as both the SDK and the daemon hold one. */
export interface AnyByteStream {
  send(message: Any): void;
  /** The peer's next message; undefined once it half-closed or went away. */
  recv(signal?: AbortSignal): Promise<Any | undefined>;
  close(): void;
}

/** The bytes the peer sends on `stream`, granting credit as they are read; closes it at the end. */
export async function* receiveBytes(
  stream: AnyByteStream,
  signal?: AbortSignal,
): AsyncIterable<Uint8Array> {
  let window = 0;
  try {
    for (;;) {
      if (window < windowSize) {
        stream.send(pack(WindowUpdateSchema, { update: windowSize }));
        window += windowSize;
      }
      const message = await stream.recv(signal);
      if (!message) {
        signal?.throwIfAborted();
        return;
      }
      const data = unpackAs(message, DataSchema);
      if (!data) continue;
      window -= data.data.length;
      yield data.data;
    }
  } finally {
    stream.close();
  }
}

/**
 * Sends `source` on `stream` as Data within the credit the peer grants, then
 * closes it. False when the peer went away (or `signal` aborted) before all was
 * sent: whether that is an error is the caller's to say.
 */
export async function sendBytes(
  stream: AnyByteStream,
  source: AsyncIterable<Uint8Array>,
  signal?: AbortSignal,
): Promise<boolean> {
  let credit = 0;
  let ended = false;
  let wake: (() => void) | undefined;
  void (async () => {
    for (;;) {
      const message = await stream.recv(signal).catch(() => undefined);
      if (!message) break;
      const update = unpackAs(message, WindowUpdateSchema);
      if (update) credit += update.update;
      wake?.();
    }
    ended = true;
    wake?.();
  })();
  try {
    for await (const chunk of source) {
      for (let off = 0; off < chunk.length;) {
        while (credit <= 0) {
          if (ended || signal?.aborted) return false;
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
        const n = Math.min(maxChunk, credit, chunk.length - off);
        stream.send(pack(DataSchema, { data: chunk.subarray(off, off + n) }));
        credit -= n;
        off += n;
      }
    }
    return true;
  } finally {
    stream.close();
  }
}
