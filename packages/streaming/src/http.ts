/**
 * HTTP/1.1 pieces for upgraded sockets: protocol negotiation, raw responses,
 * the clients' reading of a refused upgrade, and write backpressure.
 */
import type { EventEmitter } from "node:events";
import type { IncomingMessage } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { unavailable } from "@sandboxd/errdefs";

export const protocolHeader = "x-stream-protocol-version";
export const acceptedProtocolsHeader = "X-Accepted-Stream-Protocol-Versions";

/** Every value of a header, also when sent as several lines or comma-separated. */
export function headerValues(req: IncomingMessage, name: string): string[] {
  const raw = req.headersDistinct[name] ?? [];
  return raw
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

/**
 * httpstream.Handshake: the first protocol the client offers that the server supports; "" when
 * the client offered none (legacy clients), null when nothing matches.
 */
export function negotiate(offered: readonly string[], supported: readonly string[]): string | null {
  if (offered.length === 0) return "";
  return offered.find((p) => supported.includes(p)) ?? null;
}

export function isUpgrade(req: IncomingMessage, protocol: string): boolean {
  const connection = headerValues(req, "connection").map((v) => v.toLowerCase());
  const upgrade = (req.headers.upgrade ?? "").toLowerCase();
  return connection.includes("upgrade") && upgrade === protocol.toLowerCase();
}

/** Writes a complete HTTP response on a socket that was not handed to node's http layer. */
export function rawResponse(
  socket: Duplex,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  const text = `${body}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`,
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(text)}`,
    "Connection: close",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join("\r\n")}\r\n\r\n${text}`);
}

export function switchingProtocols(socket: Duplex, headers: Record<string, string>): void {
  const lines = [
    "HTTP/1.1 101 Switching Protocols",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
}

/**
 * A client's answer to a response where it asked for an upgrade: rejects with
 * Unavailable carrying the server's status and body (and `statusCode`).
 */
export function rejectRefusedUpgrade(res: IncomingMessage, reject: (err: unknown) => void): void {
  const chunks: Buffer[] = [];
  res.on("data", (c: Buffer) => chunks.push(c));
  res.on("end", () =>
    reject(
      Object.assign(
        unavailable(
          `upgrade refused: ${res.statusCode} ${Buffer.concat(chunks).toString().trim()}`,
        ),
        { statusCode: res.statusCode },
      ),
    ),
  );
}

/**
 * Calls `cb` once `socket` can take more, or at once when it can already or
 * `owner` (its session or connection) is `closed`; also when `owner` closes.
 */
export function afterDrain(
  socket: Duplex,
  owner: EventEmitter,
  closed: boolean,
  cb: () => void,
): void {
  if (closed || !socket.writableNeedDrain) return cb();
  const done = (): void => {
    socket.off("drain", done);
    owner.off("close", done);
    cb();
  };
  socket.once("drain", done);
  owner.once("close", done);
}
