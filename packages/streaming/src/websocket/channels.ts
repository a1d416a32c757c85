/** The channel byte (or base64 digit) framing of k8s WebSocket streaming. */
import { Writable } from "node:stream";
import type { WsConnection } from "./conn.js";

/** Frames channel messages for a connection in binary or base64 mode. */
export class ChannelCodec {
  readonly base64: boolean;
  constructor(base64: boolean) {
    this.base64 = base64;
  }
  encode(channel: number, data: Buffer): { payload: Buffer; binary: boolean } {
    if (!this.base64) return { payload: Buffer.concat([Buffer.of(channel), data]), binary: true };
    return { payload: Buffer.from(String(channel) + data.toString("base64")), binary: false };
  }
  decode(message: Buffer): { channel: number; data: Buffer } | null {
    if (message.length === 0) return null;
    if (!this.base64) return { channel: message[0]!, data: message.subarray(1) };
    const channel = message[0]! - 0x30;
    return { channel, data: Buffer.from(message.subarray(1).toString(), "base64") };
  }
}

/** A Writable that sends each chunk as one message on `channel`. */
export function channelWriter(ws: WsConnection, codec: ChannelCodec, channel: number): Writable {
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const { payload, binary } = codec.encode(channel, chunk);
      ws.send(payload, binary);
      ws.afterDrain(() => cb());
    },
  });
  w.on("error", () => undefined);
  return w;
}
