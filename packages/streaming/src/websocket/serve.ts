/**
 * remotecommand and portforward over WebSocket, as kubelet's wsstream does them: one channel
 * byte before each message (binary), or an ASCII digit and base64 text (the base64 protocols).
 * Exec channels: 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize; v5 adds the close signal
 * [255, channel] with which a client ends stdin. Port-forward: two channels per `port` query
 * value (data 2i, error 2i+1), each opened by the port number as 2 little-endian bytes.
 */
import type { IncomingMessage } from "node:http";
import { Readable, type Duplex } from "node:stream";
import { acceptKey, WsConnection } from "./conn.js";
import { headerValues, rawResponse, switchingProtocols } from "../http.js";
import { runCommand, type CommandTarget } from "../protocol/command.js";
import {
  Protocol,
  ResizeDecoder,
  ResizeQueue,
  encodeStatus,
  portForwardProtocol,
  type CommandProtocol,
} from "../protocol/remotecommand.js";
import type { PortForwardRequest, StreamIO } from "../runtime.js";
import { serveSpdyPortForward, type ServeOptions } from "../spdy/serve.js";
import { SpdySession } from "../spdy/session.js";
import { WsByteStream, tunnelPrefix } from "./tunnel.js";
import { wsPortForward } from "./portforward.js";
import { ChannelCodec, channelWriter } from "./channels.js";

/** Sub-protocols, best first, and how each frames its messages. */
const commandProtocols: Record<string, { base64: boolean; status: CommandProtocol }> = {
  [Protocol.V5]: { base64: false, status: Protocol.V5 },
  [Protocol.V4]: { base64: false, status: Protocol.V4 },
  "v4.base64.channel.k8s.io": { base64: true, status: Protocol.V4 },
  [Protocol.V1]: { base64: false, status: Protocol.V1 },
  "base64.channel.k8s.io": { base64: true, status: Protocol.V1 },
};
const portForwardWsProtocols: Record<string, { base64: boolean }> = {
  "v4.channel.k8s.io": { base64: false },
  "v4.base64.channel.k8s.io": { base64: true },
  "portforward.k8s.io": { base64: false },
  "base64.portforward.k8s.io": { base64: true },
  "channel.k8s.io": { base64: false },
  "base64.channel.k8s.io": { base64: true },
};

export const Channel = { Stdin: 0, Stdout: 1, Stderr: 2, Error: 3, Resize: 4 } as const;
/** v5's close signal: a message [255, channel] (kubernetes remotecommand.StreamClose). */
const closeSignal = 255;

export interface WsSession {
  destroy(): void;
  done: Promise<void>;
}

function handshake(
  req: IncomingMessage,
  socket: Duplex,
  supported: readonly string[],
): string | null {
  const key = req.headers["sec-websocket-key"];
  if (
    req.headers["sec-websocket-version"] !== "13" ||
    typeof key !== "string" ||
    Buffer.from(key, "base64").length !== 16
  ) {
    rawResponse(socket, 400, "bad websocket handshake: version 13 and a 16-byte key are required", {
      "Sec-WebSocket-Version": "13",
    });
    return null;
  }
  const offered = headerValues(req, "sec-websocket-protocol");
  const chosen = offered.length === 0 ? "" : offered.find((p) => supported.includes(p));
  if (chosen === undefined) {
    rawResponse(
      socket,
      400,
      `requested protocol(s) are not supported: [${offered.join(" ")}]; supports [${supported.join(" ")}]`,
    );
    return null;
  }
  const headers: Record<string, string> = {
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Accept": acceptKey(key),
  };
  if (chosen) headers["Sec-WebSocket-Protocol"] = chosen;
  switchingProtocols(socket, headers);
  return chosen;
}

export function serveWebSocket(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  cached: CommandTarget | { kind: "portforward"; request: PortForwardRequest },
  opts: ServeOptions & { idleTimeoutMs: number },
): WsSession | null {
  if (cached.kind === "portforward") {
    const tunnel = tunnelPrefix + portForwardProtocol;
    if (headerValues(req, "sec-websocket-protocol").includes(tunnel)) {
      if (handshake(req, socket, [tunnel]) === null) return null;
      if (head.length > 0) socket.unshift(head);
      const ws = new WsConnection(socket, { server: true, idleTimeoutMs: opts.idleTimeoutMs });
      const session = new SpdySession(new WsByteStream(ws), { server: true });
      return {
        destroy: () => session.destroy(),
        done: serveSpdyPortForward(session, cached.request.podSandboxId, opts),
      };
    }
    const ports = new URL(req.url ?? "/", "http://x").searchParams
      .getAll("port")
      .flatMap((p) => p.split(","))
      .map(Number);
    if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
      rawResponse(socket, 400, 'query parameter "port" is required and must be 1-65535');
      return null;
    }
    const chosen = handshake(req, socket, Object.keys(portForwardWsProtocols));
    if (chosen === null) return null;
    if (head.length > 0) socket.unshift(head);
    const ws = new WsConnection(socket, { server: true, idleTimeoutMs: opts.idleTimeoutMs });
    const codec = new ChannelCodec(portForwardWsProtocols[chosen]?.base64 ?? false);
    return {
      destroy: () => ws.destroy(),
      done: wsPortForward(ws, codec, cached.request.podSandboxId, ports, opts),
    };
  }
  const chosen = handshake(req, socket, Object.keys(commandProtocols));
  if (chosen === null) return null;
  if (head.length > 0) socket.unshift(head);
  const ws = new WsConnection(socket, { server: true, idleTimeoutMs: opts.idleTimeoutMs });
  const mode = commandProtocols[chosen] ?? { base64: false, status: Protocol.V1 };
  return {
    destroy: () => ws.destroy(),
    done: wsCommand(ws, new ChannelCodec(mode.base64), mode.status, cached, opts),
  };
}

async function wsCommand(
  ws: WsConnection,
  codec: ChannelCodec,
  protocol: CommandProtocol,
  target: CommandTarget,
  opts: ServeOptions,
): Promise<void> {
  const req = target.request;
  const abort = new AbortController();
  const stdin = req.stdin ? new Readable({ read() {} }) : null;
  stdin?.on("error", () => undefined);
  const resize = req.tty ? new ResizeQueue() : null;
  const decoder = resize ? new ResizeDecoder((s) => resize.push(s)) : null;
  const onClose = (): void => {
    abort.abort();
    if (stdin && !stdin.readableEnded) stdin.push(null);
    resize?.end();
  };
  ws.once("close", onClose);
  ws.on("message", (message) => {
    if (protocol === Protocol.V5 && !codec.base64 && message[0] === closeSignal) {
      if (message.length === 2 && message[1] === Channel.Stdin && stdin && !stdin.readableEnded)
        stdin.push(null);
      return;
    }
    const m = codec.decode(message);
    if (!m) return;
    if (m.channel === Channel.Stdin && stdin && !stdin.readableEnded) {
      if (m.data.length > 0) stdin.push(m.data);
    } else if (m.channel === Channel.Resize) {
      decoder?.push(m.data);
    }
  });
  const stdout = req.stdout ? channelWriter(ws, codec, Channel.Stdout) : null;
  const stderr = req.stderr && !req.tty ? channelWriter(ws, codec, Channel.Stderr) : null;
  // The first message (empty, on the lowest writable channel) tells the client it is connected.
  const first = stdout ? Channel.Stdout : stderr ? Channel.Stderr : Channel.Error;
  const hello = codec.encode(first, Buffer.alloc(0));
  ws.send(hello.payload, hello.binary);
  const io: StreamIO = { stdin, stdout, stderr, tty: req.tty, resize };
  try {
    const status = await runCommand(opts.runtime, target, io, abort.signal);
    if (status === null || ws.closed) return;
    // Output the runtime queued goes out before the status.
    const writers = [stdout, stderr].filter((w) => w !== null);
    await Promise.all(writers.map((w) => new Promise<void>((r) => w.end(r))));
    const payload = encodeStatus(protocol, status);
    if (payload) {
      const { payload: p, binary } = codec.encode(Channel.Error, payload);
      ws.send(p, binary);
    }
    ws.close();
    await new Promise<void>((resolve) =>
      ws.closed ? resolve() : ws.once("close", () => resolve()),
    );
  } finally {
    ws.off("close", onClose);
    onClose();
    ws.destroy();
  }
}
