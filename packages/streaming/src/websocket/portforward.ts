/** portforward over WebSocket: one forward per requested port, for the life of the connection. */
import { Duplex } from "node:stream";
import type { ServeOptions } from "../spdy/serve.js";
import type { ChannelCodec } from "./channels.js";
import type { WsConnection } from "./conn.js";

export async function wsPortForward(
  ws: WsConnection,
  codec: ChannelCodec,
  podSandboxId: string,
  ports: readonly number[],
  opts: ServeOptions,
): Promise<void> {
  const abort = new AbortController();
  const send = (channel: number, data: Buffer): void => {
    const { payload, binary } = codec.encode(channel, data);
    ws.send(payload, binary);
  };
  const streams = ports.map((port, i) => {
    const dataChannel = i * 2;
    const stream = new Duplex({
      allowHalfOpen: true,
      read() {},
      write(chunk: Buffer, _enc, cb) {
        send(dataChannel, chunk);
        ws.afterDrain(() => cb());
      },
    });
    stream.on("error", () => undefined);
    return { port, dataChannel, stream };
  });
  ws.on("message", (message) => {
    const m = codec.decode(message);
    if (!m || m.channel % 2 !== 0) return;
    const target = streams[m.channel / 2];
    if (target && m.data.length > 0) target.stream.push(m.data);
  });
  const onClose = (): void => {
    abort.abort();
    for (const s of streams) {
      s.stream.push(null);
      s.stream.destroy();
    }
  };
  ws.once("close", onClose);
  for (const { port, dataChannel } of streams) {
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port);
    send(dataChannel, portBytes);
    send(dataChannel + 1, portBytes);
  }
  await Promise.all(
    streams.map(async ({ port, dataChannel, stream }) => {
      try {
        await opts.runtime.portForward(podSandboxId, port, stream, abort.signal);
      } catch (err) {
        if (abort.signal.aborted) return;
        const msg = err instanceof Error ? err.message : String(err);
        send(
          dataChannel + 1,
          Buffer.from(`error forwarding port ${port} to pod ${podSandboxId}, uid : ${msg}`),
        );
      }
    }),
  );
  if (!ws.closed) {
    ws.close();
    await new Promise<void>((resolve) =>
      ws.closed ? resolve() : ws.once("close", () => resolve()),
    );
  }
  ws.off("close", onClose);
  onClose();
}
