/** A WebSocket streaming client (kubectl's newer transport), for tests and tools. */
import http from "node:http";
import { randomBytes } from "node:crypto";
import { unavailable } from "@sandboxd/errdefs";
import { rejectRefusedUpgrade } from "../http.js";
import { acceptKey, WsConnection } from "../websocket/conn.js";

export interface WsClientConnection {
  ws: WsConnection;
  /** The sub-protocol the server chose ("" when none). */
  protocol: string;
}

/**
 * Opens `url` as a WebSocket offering `protocols`; rejects with the server's answer.
 * `onMessage` is attached before any message can arrive (the server speaks first).
 */
export function wsConnect(
  url: string,
  protocols: readonly string[],
  onMessage?: (data: Buffer, binary: boolean) => void,
): Promise<WsClientConnection> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString("base64");
    const headers: http.OutgoingHttpHeaders = {
      Connection: "Upgrade",
      Upgrade: "websocket",
      "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": key,
    };
    if (protocols.length > 0) headers["Sec-WebSocket-Protocol"] = protocols.join(", ");
    const req = http.request(url, { method: "GET", headers });
    req.on("upgrade", (res, socket, head) => {
      if (res.headers["sec-websocket-accept"] !== acceptKey(key)) {
        socket.destroy();
        return reject(unavailable("websocket upgrade: bad Sec-WebSocket-Accept"));
      }
      const ws = new WsConnection(socket, { server: false });
      if (onMessage) ws.on("message", onMessage);
      if (head.length > 0) socket.unshift(head);
      resolve({ ws, protocol: String(res.headers["sec-websocket-protocol"] ?? "") });
    });
    req.on("response", (res) => rejectRefusedUpgrade(res, reject));
    req.on("error", reject);
    req.end();
  });
}
