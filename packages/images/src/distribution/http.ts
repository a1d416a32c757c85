/**
 * One HTTP(S) exchange with a registry, on Node's http/https: bounded waits (no answer or
 * no body bytes for `idleTimeoutMs` is Unavailable), redirects followed (a token is never
 * forwarded to another host), the caller's AbortSignal honoured throughout.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { PassThrough, type Readable } from "node:stream";
import type { Ctx } from "@sandboxd/core";
import { canceled, invalidArgument, unavailable } from "@sandboxd/errdefs";

export interface TlsOptions {
  /** Extra CA certificates (PEM) to trust. */
  readonly ca?: readonly (string | Buffer)[];
  readonly skipVerify?: boolean;
}

export interface HttpOptions {
  readonly method?: "GET" | "HEAD" | "POST";
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly tls?: TlsOptions;
  readonly idleTimeoutMs: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body; it errors with Unavailable when no byte arrives for idleTimeoutMs. */
  readonly body: Readable;
  readonly url: URL;
}

const maxRedirects = 5;

function once(
  ctx: Ctx,
  url: URL,
  options: HttpOptions,
  headers: Record<string, string>,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      reject(invalidArgument(`unsupported URL scheme in ${url.href}`));
      return;
    }
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(url, {
      method: options.method ?? "GET",
      headers,
      signal: ctx.signal,
      timeout: options.idleTimeoutMs,
      ...(url.protocol === "https:"
        ? {
            ...(options.tls?.ca ? { ca: [...options.tls.ca] } : {}),
            rejectUnauthorized: options.tls?.skipVerify !== true,
          }
        : {}),
    });
    req.on("timeout", () => {
      req.destroy(
        unavailable(
          `${url.host}: no answer within ${options.idleTimeoutMs} ms (${options.method ?? "GET"} ${url.pathname})`,
        ),
      );
    });
    req.on("error", (err) => {
      if (ctx.signal.aborted) reject(canceled(`request to ${url.host} cancelled`));
      else reject(err);
    });
    req.on("response", (res) => {
      // From here the body's own idle timer (guard) bounds the wait.
      req.setTimeout(0);
      resolve(res);
    });
    req.end(options.body);
  });
}

/** Body stream with an idle deadline between bytes. */
function guard(res: IncomingMessage, url: URL, idleMs: number, signal: AbortSignal): Readable {
  const out = new PassThrough();
  // A body nobody reads any more (a caller that gave up) must not turn a late abort into
  // an uncaught error; readers still get errors through their own listeners.
  out.on("error", () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const fail = (err: Error): void => {
    clearTimeout(timer);
    out.destroy(err);
    res.destroy();
  };
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(
      () => fail(unavailable(`${url.host}: body stalled for ${idleMs} ms (${url.pathname})`)),
      idleMs,
    );
  };
  const onAbort = (): void => fail(canceled(`download from ${url.host} cancelled`));
  signal.addEventListener("abort", onAbort, { once: true });
  arm();
  res.on("data", (chunk: Buffer) => {
    arm();
    if (!out.write(chunk)) {
      res.pause();
      out.once("drain", () => res.resume());
    }
  });
  res.on("end", () => {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    out.end();
  });
  const broken = (): void => {
    signal.removeEventListener("abort", onAbort);
    if (!out.destroyed)
      fail(unavailable(`${url.host}: connection lost mid-body (${url.pathname})`));
  };
  res.on("aborted", broken);
  res.on("error", broken);
  res.on("close", () => {
    if (!res.complete) broken();
  });
  out.on("close", () => {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    if (!res.complete) res.destroy();
  });
  return out;
}

/** Sends one request, following redirects. Non-2xx statuses are returned, not thrown. */
export async function send(ctx: Ctx, url: URL, options: HttpOptions): Promise<HttpResponse> {
  let current = url;
  const headers: Record<string, string> = { ...options.headers };
  for (let hop = 0; ; hop += 1) {
    const res = await once(ctx, current, options, headers);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if ([301, 302, 303, 307, 308].includes(status) && location && hop < maxRedirects) {
      res.resume();
      const next = new URL(location, current);
      if (next.host !== current.host) delete headers.authorization;
      current = next;
      continue;
    }
    return {
      status,
      headers: res.headers,
      body: guard(res, current, options.idleTimeoutMs, ctx.signal),
      url: current,
    };
  }
}

/** Reads a whole body, failing past `limit` bytes. */
export async function readAll(body: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      throw invalidArgument(`${what} is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
