/**
 * The harness's own HTTP(S) calls to its registry (pushes, readiness), on node:http/https
 * so a TLS registry with a test CA works without touching the process's trust store.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface HarnessResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

export function harnessCall(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer; ca?: string } = {},
): Promise<HarnessResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const send = u.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(
      u,
      {
        method: options.method ?? "GET",
        headers: {
          ...options.headers,
          ...(options.body ? { "content-length": String(options.body.length) } : {}),
        },
        ...(options.ca ? { ca: options.ca } : {}),
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () =>
      req.destroy(new Error(`${options.method ?? "GET"} ${url}: no answer in 30 s`)),
    );
    req.on("error", reject);
    req.end(options.body);
  });
}
