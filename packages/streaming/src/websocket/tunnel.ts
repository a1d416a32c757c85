/**
 * SPDY tunnelled through WebSocket (client-go's `SPDY/3.1+portforward.k8s.io` sub-protocol, what
 * `kubectl port-forward` and crictl's websocket transport dial): every binary message carries
 * SPDY bytes, so the WebSocket becomes the byte stream under an ordinary SPDY session.
 */
import { Duplex } from "node:stream";
import type { WsConnection } from "./conn.js";

export const tunnelPrefix = "SPDY/3.1+";

/** The WebSocket's binary messages as one byte stream (what SpdySession reads and writes). */
export class WsByteStream extends Duplex {
  private readonly ws: WsConnection;

  constructor(ws: WsConnection) {
    super();
    this.ws = ws;
    ws.on("message", (data, binary) => {
      if (binary) this.push(data);
    });
    ws.once("close", () => {
      this.push(null);
      this.destroy();
    });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.ws.send(chunk, true);
    this.ws.afterDrain(() => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.ws.close();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.ws.destroy();
    cb(err);
  }
}
