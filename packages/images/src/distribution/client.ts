/**
 * The registry client (containerd's remotes/docker resolver + fetcher): resolves a
 * reference to a descriptor through the hosts that may resolve it, fetches manifests
 * (verified against their digest and size) and opens blobs at an offset (HTTP Range) for
 * resumable copies. Transient failures (5xx, 429, connection errors, stalls) are retried a
 * bounded number of times with backoff; 404 moves on to the next host.
 */
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { Ctx } from "@sandboxd/core";
import {
  canceled,
  dataLoss,
  invalidArgument,
  isCanceled,
  isUnavailable,
  notFound,
  unavailable,
  messageOf,
} from "@sandboxd/errdefs";
import { Authorizer, type CredentialsProvider } from "./auth.js";
import { readAll, send, type HttpResponse, type TlsOptions } from "./http.js";
import {
  isIndexType,
  isManifestType,
  manifestAccept,
  maxManifestSize,
  type Descriptor,
} from "./media-types.js";
import { objectOf, formatReference, type Reference } from "./reference.js";

export type Capability = "pull" | "resolve" | "push";

/** One place a registry's content can be fetched from (the upstream or a mirror). */
export interface RegistryEndpoint {
  readonly scheme: "http" | "https";
  /** `host[:port]`. */
  readonly host: string;
  /** API root, `/v2` unless a mirror says otherwise. */
  readonly path: string;
  readonly capabilities: readonly Capability[];
  readonly tls?: TlsOptions;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The endpoints for a registry domain, in the order to try them. */
export type HostsResolver = (
  domain: string,
) => readonly RegistryEndpoint[] | Promise<readonly RegistryEndpoint[]>;

export function isLocalhost(host: string): boolean {
  const name = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return name === "localhost" || name === "::1" || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/** Without configuration: docker.io is registry-1.docker.io; loopback is plain HTTP. */
export function defaultHosts(domain: string): RegistryEndpoint[] {
  const host = domain === "docker.io" ? "registry-1.docker.io" : domain;
  const scheme = isLocalhost(domain) ? "http" : "https";
  return [{ scheme, host, path: "/v2", capabilities: ["pull", "resolve", "push"] }];
}

export interface RegistryClientOptions {
  readonly hosts?: HostsResolver;
  readonly credentials?: CredentialsProvider;
  /** No answer / no body byte for this long is a stall (default 30 s). */
  readonly idleTimeoutMs?: number;
  /** Attempts per request on transient failures (default 4). */
  readonly attempts?: number;
  /** First backoff delay, doubled per attempt up to 2 s (default 200 ms). */
  readonly backoffMs?: number;
  readonly userAgent?: string;
}

export interface Resolved {
  readonly name: string;
  readonly descriptor: Descriptor;
}

function transientStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

export function isTransient(err: unknown): boolean {
  if (isUnavailable(err)) return true;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return [
    "ECONNRESET",
    "ECONNREFUSED",
    "EPIPE",
    "ETIMEDOUT",
    "ECONNABORTED",
    "EAI_AGAIN",
    "UND_ERR_SOCKET",
  ].includes(code ?? "");
}

export class RegistryClient {
  readonly #hosts: HostsResolver;
  readonly #auth: Authorizer;
  readonly #idleMs: number;
  readonly #attempts: number;
  readonly #backoffMs: number;
  readonly #userAgent: string;

  constructor(options: RegistryClientOptions = {}) {
    this.#hosts = options.hosts ?? defaultHosts;
    this.#idleMs = options.idleTimeoutMs ?? 30_000;
    this.#attempts = Math.max(1, options.attempts ?? 4);
    this.#backoffMs = options.backoffMs ?? 200;
    this.#userAgent = options.userAgent ?? "sandboxd/0.1";
    this.#auth = new Authorizer({
      ...(options.credentials ? { credentials: options.credentials } : {}),
      idleTimeoutMs: this.#idleMs,
      userAgent: this.#userAgent,
    });
  }

  get attempts(): number {
    return this.#attempts;
  }

  async backoff(ctx: Ctx, attempt: number): Promise<void> {
    const ms = Math.min(2000, this.#backoffMs * 2 ** attempt);
    try {
      await sleep(ms, undefined, { signal: ctx.signal });
    } catch {
      throw canceled("pull cancelled");
    }
  }

  async #endpoints(ref: Reference, capability: Capability): Promise<RegistryEndpoint[]> {
    const all = await this.#hosts(ref.domain);
    const usable = all.filter((e) => e.capabilities.includes(capability));
    if (usable.length === 0)
      throw notFound(`no host of ${ref.domain} may ${capability} (check hosts.toml capabilities)`);
    return usable;
  }

  /**
   * One request to one endpoint with auth (401 → challenge → one retry) and bounded
   * retries of transient failures. Returns any final status; the caller reads the body.
   */
  async #request(
    ctx: Ctx,
    ref: Reference,
    endpoint: RegistryEndpoint,
    method: "GET" | "HEAD",
    suffix: string,
    headers: Record<string, string>,
  ): Promise<HttpResponse> {
    const url = new URL(
      `${endpoint.scheme}://${endpoint.host}${endpoint.path}/${ref.path}/${suffix}`,
    );
    // A mirror learns which upstream registry the repository belongs to (containerd sends it too).
    if (ref.domain !== endpoint.host) url.searchParams.set("ns", ref.domain);
    const scope = `repository:${ref.path}:pull`;
    let authRetried = false;
    for (let attempt = 0; ; attempt += 1) {
      if (ctx.signal.aborted) throw canceled("pull cancelled");
      const authorization = await this.#auth.header(endpoint.host, scope);
      let res: HttpResponse;
      try {
        res = await send(ctx, url, {
          method,
          headers: {
            "user-agent": this.#userAgent,
            ...endpoint.headers,
            ...headers,
            ...(authorization ? { authorization } : {}),
          },
          idleTimeoutMs: this.#idleMs,
          ...(endpoint.tls ? { tls: endpoint.tls } : {}),
        });
      } catch (err) {
        if (isCanceled(err) || ctx.signal.aborted) throw canceled("pull cancelled");
        if (!isTransient(err) || attempt + 1 >= this.#attempts) {
          throw unavailable(
            `${method} ${url.href}: ${messageOf(err)} (after ${attempt + 1} attempts)`,
          );
        }
        await this.backoff(ctx, attempt);
        continue;
      }
      if (res.status === 401 && !authRetried) {
        res.body.resume();
        authRetried = true;
        await this.#auth.unauthorized(ctx, endpoint.host, scope, res.headers["www-authenticate"]);
        attempt -= 1;
        continue;
      }
      if (res.status === 401) {
        res.body.resume();
        await this.#auth.unauthorized(ctx, endpoint.host, scope, res.headers["www-authenticate"]);
      }
      if (transientStatus(res.status)) {
        res.body.resume();
        if (attempt + 1 >= this.#attempts) {
          throw unavailable(
            `${method} ${url.href}: HTTP ${res.status} (after ${attempt + 1} attempts)`,
          );
        }
        await this.backoff(ctx, attempt);
        continue;
      }
      if (res.status < 400) this.#auth.succeeded(endpoint.host);
      return res;
    }
  }

  /** The descriptor `ref` names (HEAD, falling back to GET and hashing the body). */
  async resolve(ctx: Ctx, ref: Reference): Promise<Resolved> {
    const name = formatReference(ref);
    const errors: string[] = [];
    for (const endpoint of await this.#endpoints(ref, "resolve")) {
      const paths = ref.digest ? ["manifests", "blobs"] : ["manifests"];
      for (const kind of paths) {
        const suffix = `${kind}/${objectOf(ref)}`;
        const head = await this.#request(ctx, ref, endpoint, "HEAD", suffix, {
          accept: manifestAccept,
        });
        head.body.resume();
        if (head.status === 404) {
          errors.push(`${endpoint.host}: not found`);
          continue;
        }
        const header = head.headers["docker-content-digest"];
        const digest = (Array.isArray(header) ? header[0] : header) ?? ref.digest;
        const type = head.headers["content-type"]?.split(";")[0]?.trim();
        const length = Number(head.headers["content-length"]);
        if (
          head.status === 200 &&
          digest &&
          type &&
          Number.isSafeInteger(length) &&
          length > 0 &&
          type !== "application/octet-stream"
        ) {
          if (ref.digest && digest !== ref.digest)
            throw dataLoss(`${name}: registry answered digest ${digest}`);
          return { name, descriptor: { mediaType: type, digest, size: length } };
        }
        const get = await this.#request(ctx, ref, endpoint, "GET", suffix, {
          accept: manifestAccept,
        });
        if (get.status === 404) {
          get.body.resume();
          errors.push(`${endpoint.host}: not found`);
          continue;
        }
        if (get.status !== 200) {
          get.body.resume();
          throw unavailable(`resolving ${name} on ${endpoint.host}: HTTP ${get.status}`);
        }
        const body = await readAll(get.body, maxManifestSize, `manifest of ${name}`);
        const computed = `sha256:${createHash("sha256").update(body).digest("hex")}`;
        if (ref.digest && computed !== ref.digest)
          throw dataLoss(`${name}: manifest digest is ${computed}`);
        const mediaType =
          get.headers["content-type"]?.split(";")[0]?.trim() ?? sniffMediaType(body);
        return { name, descriptor: { mediaType, digest: computed, size: body.length } };
      }
    }
    throw notFound(`${name}: not found (${errors.join("; ")})`);
  }

  /** A manifest or index, verified against the descriptor's digest and size. */
  async fetchManifest(ctx: Ctx, ref: Reference, desc: Descriptor): Promise<Buffer> {
    if (desc.size > maxManifestSize)
      throw invalidArgument(
        `manifest ${desc.digest} is ${desc.size} bytes, over ${maxManifestSize}`,
      );
    const { stream } = await this.open(ctx, ref, desc, 0);
    const body = await readAll(
      stream,
      desc.size,
      `manifest ${desc.digest} (descriptor says ${desc.size} bytes)`,
    );
    if (body.length !== desc.size)
      throw dataLoss(
        `manifest ${desc.digest}: got ${body.length} bytes, descriptor says ${desc.size}`,
      );
    const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    if (digest !== desc.digest)
      throw dataLoss(`manifest ${desc.digest}: content has digest ${digest}`);
    return body;
  }

  /**
   * Opens `desc` at `offset`. `offset` in the answer is where the stream really starts
   * (0 when the registry ignored the Range).
   */
  async open(
    ctx: Ctx,
    ref: Reference,
    desc: Descriptor,
    offset: number,
  ): Promise<{ stream: Readable; offset: number }> {
    const kind =
      isManifestType(desc.mediaType) || isIndexType(desc.mediaType) ? "manifests" : "blobs";
    const headers: Record<string, string> = { accept: `${desc.mediaType}, */*` };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    let last = "";
    for (const endpoint of await this.#endpoints(ref, "pull")) {
      const res = await this.#request(ctx, ref, endpoint, "GET", `${kind}/${desc.digest}`, headers);
      if (res.status === 404) {
        res.body.resume();
        last = `${endpoint.host}: not found`;
        continue;
      }
      if (res.status === 206 && offset > 0) {
        const start = /^bytes (\d+)-/.exec(res.headers["content-range"] ?? "")?.[1];
        if (Number(start) !== offset) {
          res.body.destroy();
          throw unavailable(
            `${endpoint.host}: asked for bytes from ${offset}, got range ${res.headers["content-range"] ?? "none"}`,
          );
        }
        return { stream: res.body, offset };
      }
      if (res.status === 200) return { stream: res.body, offset: 0 };
      res.body.resume();
      last = `${endpoint.host}: HTTP ${res.status}`;
      if (res.status === 416) throw unavailable(`${desc.digest}: ${last} (range ${offset}-)`);
    }
    throw notFound(`${formatReference(ref)}: ${desc.digest} not found (${last})`);
  }
}

function sniffMediaType(body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString()) as {
      mediaType?: string;
      manifests?: unknown;
      config?: unknown;
    };
    if (parsed.mediaType) return parsed.mediaType;
    if (parsed.manifests) return "application/vnd.oci.image.index.v1+json";
    if (parsed.config) return "application/vnd.oci.image.manifest.v1+json";
  } catch {
    // not JSON
  }
  return "application/octet-stream";
}
