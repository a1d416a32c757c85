/**
 * Byte streams over a registered stream, with containerd's credit flow control
 * (core/transfer/streaming/stream.go): the receiver grants 64 KiB with
 * WindowUpdate whenever its window is below that, the sender sends Data of at
 * most 32 KiB while it has credit and closes the stream at the end.
 */
import { pack, unpackAs } from "@sandboxd/api/names";
import { DataSchema, WindowUpdateSchema } from "@sandboxd/api/types/transfer/streaming_pb";
import { canceled } from "@sandboxd/errdefs";
import type { AnyStream } from "./manager.js";

export const maxChunk = 32 * 1024;
export const windowSize = 2 * maxChunk;

/** The bytes a client sends on `stream`, granting credit as it goes. */
export async function* receiveBytes(
  stream: AnyStream,
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

/** Sends `source` on `stream` as Data within the credit the client grants, then closes it. */
export async function sendBytes(
  stream: AnyStream,
  source: AsyncIterable<Uint8Array>,
  signal?: AbortSignal,
): Promise<void> {
  let credit = 0;
  let ended = false;
  let wake: (() => void) | undefined;
  const credits = (async () => {
    for (;;) {
      const message = await stream.recv(signal);
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
          if (ended || signal?.aborted) {
            throw canceled("the receiver of the byte stream went away");
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
        const n = Math.min(maxChunk, credit, chunk.length - off);
        stream.send(pack(DataSchema, { data: chunk.subarray(off, off + n) }));
        credit -= n;
        off += n;
      }
    }
  } finally {
    stream.close();
    void credits;
  }
}
