/**
 * A SPDY/3.1 streaming client (what kubectl, crictl and critest do with Go's spdystream): the
 * HTTP upgrade with protocol negotiation, then a client-side SpdySession. Used by tests and tools.
 */
import http from "node:http";
import { rejectRefusedUpgrade } from "../http.js";
import { SpdySession } from "../spdy/session.js";

export interface SpdyConnection {
  session: SpdySession;
  /** The protocol the server chose ("" when the client offered none). */
  protocol: string;
}

/** Upgrades `url` to SPDY/3.1 offering `protocols` in order; rejects with the server's answer. */
export function spdyConnect(
  url: string,
  protocols: readonly string[],
  method = "POST",
): Promise<SpdyConnection> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { Connection: "Upgrade", Upgrade: "SPDY/3.1" };
    if (protocols.length > 0) headers["X-Stream-Protocol-Version"] = [...protocols];
    const req = http.request(url, { method, headers });
    req.on("upgrade", (res, socket, head) => {
      if (head.length > 0) socket.unshift(head);
      resolve({
        session: new SpdySession(socket, { server: false }),
        protocol: String(res.headers["x-stream-protocol-version"] ?? ""),
      });
    });
    req.on("response", (res) => rejectRefusedUpgrade(res, reject));
    req.on("error", reject);
    req.end();
  });
}
