/**
 * A loopback HTTP proxy in front of a test registry whose behaviour the test controls per
 * request: pass through, answer a status, stall before answering, or cut or stall the body
 * after N bytes. It records every request (method, path, Range) so tests can assert how a
 * client retried and resumed.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { AfterHook } from "./temp-dir.js";

export type FaultAction =
  | { readonly kind: "pass" }
  | { readonly kind: "status"; readonly status: number }
  | { readonly kind: "stall" }
  | { readonly kind: "drop-after"; readonly bytes: number }
  | { readonly kind: "stall-after"; readonly bytes: number }
  /** Flips one bit of the body's first byte. */
  | { readonly kind: "corrupt" };

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly range: string | undefined;
}

export interface FaultProxy {
  readonly host: string;
  readonly requests: ProxiedRequest[];
  /** Decides each request's fate; default passes everything. */
  plan: (req: ProxiedRequest, index: number) => FaultAction;
  close(): Promise<void>;
}

/** Starts a proxy to `target` (`host:port`), closed when `t` ends. */
export async function startFaultProxy(t: AfterHook, target: string): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  const proxy: FaultProxy = {
    host: "",
    requests: [],
    plan: () => ({ kind: "pass" }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const forward = (req: IncomingMessage, res: ServerResponse, action: FaultAction): void => {
    const [hostname, port] = target.split(":");
    const headers = { ...req.headers, host: target };
    const upstream = request(
      { hostname, port: Number(port), method: req.method, path: req.url, headers },
      (up) => {
        const location = up.headers.location?.replace(`http://${target}`, `http://${proxy.host}`);
        res.writeHead(up.statusCode ?? 502, { ...up.headers, ...(location ? { location } : {}) });
        let sent = 0;
        const limit =
          action.kind === "drop-after" || action.kind === "stall-after" ? action.bytes : Infinity;
        up.on("data", (chunk: Buffer) => {
          if (sent >= limit) return;
          const part = Buffer.from(chunk.subarray(0, Math.max(0, limit - sent)));
          if (action.kind === "corrupt" && sent === 0 && part.length > 0)
            part[0] = (part[0] ?? 0) ^ 1;
          sent += part.length;
          res.write(part);
          if (sent >= limit) {
            up.destroy();
            if (action.kind === "drop-after") res.socket?.destroy();
            // stall-after: keep the connection open and silent.
          }
        });
        up.on("end", () => res.end());
      },
    );
    upstream.on("error", () => res.socket?.destroy());
    req.pipe(upstream);
  };
  const server = createServer((req, res) => {
    const seen: ProxiedRequest = {
      method: req.method ?? "GET",
      path: req.url ?? "/",
      range: req.headers.range,
    };
    const index = proxy.requests.push(seen) - 1;
    const action = proxy.plan(seen, index);
    if (action.kind === "status") {
      req.resume();
      res
        .writeHead(action.status, { "content-type": "text/plain" })
        .end(`fault proxy: ${action.status}\n`);
    } else if (action.kind === "stall") {
      req.resume();
    } else {
      forward(req, res, action);
    }
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  (proxy as { host: string }).host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(() => proxy.close());
  return proxy;
}
