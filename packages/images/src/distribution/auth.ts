/**
 * Registry authorization (containerd's remotes/docker/authorizer): on a 401 the
 * WWW-Authenticate challenge says Basic (send the credentials) or Bearer (get a token for
 * the scope from the realm: GET with Basic credentials or anonymously, POST
 * grant_type=refresh_token for an identity token). Tokens are cached per host and scope
 * until they expire; one token request per scope at a time.
 */
import type { Ctx } from "@sandboxd/core";
import { unauthenticated } from "@sandboxd/errdefs";
import { readAll, send, type TlsOptions } from "./http.js";

export interface Credentials {
  readonly username?: string;
  readonly password?: string;
  /** An OAuth2 refresh token (docker's identitytoken). */
  readonly identityToken?: string;
  /** A bearer token used as is. */
  readonly registryToken?: string;
}

/** Credentials for a registry host (`host[:port]`), or undefined for anonymous. */
export type CredentialsProvider = (
  host: string,
) => Credentials | undefined | Promise<Credentials | undefined>;

export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Parses `Bearer realm="…",service="…",scope="…"` (several challenges allowed). */
export function parseChallenges(header: string): Challenge[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  const n = header.length;
  let i = 0;
  const readToken = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+.^_`|~\w-]/.test(header.charAt(i))) i += 1;
    return header.slice(start, i);
  };
  while (i < n) {
    while (i < n && /[\s,]/.test(header.charAt(i))) i += 1;
    const token = readToken();
    if (token === "") {
      i += 1;
      continue;
    }
    let j = i;
    while (header.charAt(j) === " ") j += 1;
    const last = out[out.length - 1];
    if (header.charAt(j) !== "=" || !last) {
      out.push({ scheme: token.toLowerCase(), params: {} });
      continue;
    }
    i = j + 1;
    while (header.charAt(i) === " ") i += 1;
    let value = "";
    if (header.charAt(i) === '"') {
      i += 1;
      while (i < n && header.charAt(i) !== '"') {
        if (header.charAt(i) === "\\") i += 1;
        value += header.charAt(i);
        i += 1;
      }
      i += 1;
    } else {
      const start = i;
      while (i < n && header.charAt(i) !== ",") i += 1;
      value = header.slice(start, i).trim();
    }
    last.params[token.toLowerCase()] = value;
  }
  return out;
}

interface HostState {
  scheme?: "basic" | "bearer";
  realm?: string;
  service?: string;
  tokens: Map<string, { token: string; expires: number }>;
  pending: Map<string, Promise<string>>;
  /** Challenges already answered with fresh credentials: a repeat means access is denied. */
  failed: Set<string>;
}

export interface AuthorizerOptions {
  readonly credentials?: CredentialsProvider;
  readonly idleTimeoutMs: number;
  readonly userAgent: string;
  readonly tls?: (host: string) => TlsOptions | undefined;
}

export class Authorizer {
  readonly #hosts = new Map<string, HostState>();
  readonly #options: AuthorizerOptions;

  constructor(options: AuthorizerOptions) {
    this.#options = options;
  }

  #state(host: string): HostState {
    let s = this.#hosts.get(host);
    if (!s) {
      s = { tokens: new Map(), pending: new Map(), failed: new Set() };
      this.#hosts.set(host, s);
    }
    return s;
  }

  /** The Authorization header for a request to `host` needing `scope`, if one is known. */
  async header(host: string, scope: string): Promise<string | undefined> {
    const s = this.#hosts.get(host);
    if (!s?.scheme) return undefined;
    if (s.scheme === "basic") return this.#basic(host);
    const cached = s.tokens.get(scope);
    if (cached && cached.expires > Date.now()) return `Bearer ${cached.token}`;
    return undefined;
  }

  async #basic(host: string): Promise<string | undefined> {
    const c = await this.#options.credentials?.(host);
    if (c?.username === undefined) return undefined;
    return `Basic ${Buffer.from(`${c.username}:${c.password ?? ""}`).toString("base64")}`;
  }

  /**
   * Handles a 401 from `host`: learns the challenge and gets what the retry needs. Throws
   * Unauthenticated when retrying cannot help (same challenge answered already, no
   * credentials for Basic, token server refusing).
   */
  async unauthorized(
    ctx: Ctx,
    host: string,
    scope: string,
    wwwAuthenticate: string | undefined,
  ): Promise<void> {
    const challenges = parseChallenges(wwwAuthenticate ?? "");
    const bearer = challenges.find((c) => c.scheme === "bearer");
    const basic = challenges.find((c) => c.scheme === "basic");
    const s = this.#state(host);
    const key = `${scope} ${wwwAuthenticate ?? ""}`;
    if (s.failed.has(key)) {
      throw unauthenticated(
        `pull access denied for ${scope.split(":")[1] ?? scope} on ${host}: the registry refused the credentials (insufficient scope or wrong credentials)`,
      );
    }
    s.failed.add(key);
    if (bearer?.params.realm) {
      s.scheme = "bearer";
      s.realm = bearer.params.realm;
      s.service = bearer.params.service;
      s.tokens.delete(scope);
      await this.#token(ctx, host, s, scope);
      return;
    }
    if (basic) {
      s.scheme = "basic";
      if ((await this.#basic(host)) === undefined) {
        throw unauthenticated(
          `${host} requires credentials (Basic auth) and none are configured for it`,
        );
      }
      return;
    }
    throw unauthenticated(`${host} answered 401 without a usable WWW-Authenticate challenge`);
  }

  /** Forgets the failure markers after a successful request. */
  succeeded(host: string): void {
    this.#hosts.get(host)?.failed.clear();
  }

  #token(ctx: Ctx, host: string, s: HostState, scope: string): Promise<string> {
    let p = s.pending.get(scope);
    if (!p) {
      p = this.#fetchToken(ctx, host, s, scope).finally(() => s.pending.delete(scope));
      s.pending.set(scope, p);
    }
    return p;
  }

  async #fetchToken(ctx: Ctx, host: string, s: HostState, scope: string): Promise<string> {
    const c = await this.#options.credentials?.(host);
    if (c?.registryToken) {
      s.tokens.set(scope, { token: c.registryToken, expires: Number.POSITIVE_INFINITY });
      return c.registryToken;
    }
    const realm = new URL(s.realm ?? "");
    const headers: Record<string, string> = { "user-agent": this.#options.userAgent };
    const tls = this.#options.tls?.(realm.host);
    const common = { idleTimeoutMs: this.#options.idleTimeoutMs, ...(tls ? { tls } : {}) };
    let res;
    if (c?.identityToken) {
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: c.identityToken,
        service: s.service ?? "",
        scope,
        client_id: "sandboxd",
      });
      headers["content-type"] = "application/x-www-form-urlencoded";
      res = await send(ctx, realm, { ...common, method: "POST", headers, body: form.toString() });
    } else {
      if (s.service) realm.searchParams.set("service", s.service);
      realm.searchParams.set("scope", scope);
      if (c?.username !== undefined) {
        realm.searchParams.set("account", c.username);
        headers.authorization = `Basic ${Buffer.from(`${c.username}:${c.password ?? ""}`).toString("base64")}`;
      }
      res = await send(ctx, realm, { ...common, headers });
    }
    const body = await readAll(res.body, 1 << 20, `token from ${realm.host}`);
    if (res.status !== 200) {
      throw unauthenticated(
        `token server ${realm.origin}${realm.pathname} refused ${scope} for ${host}: HTTP ${res.status} ${body.toString().slice(0, 200)}`,
      );
    }
    const parsed = JSON.parse(body.toString()) as {
      token?: string;
      access_token?: string;
      expires_in?: number;
    };
    const token = parsed.token ?? parsed.access_token;
    if (!token) throw unauthenticated(`token server for ${host} returned no token`);
    const ttl = Math.max(60, parsed.expires_in ?? 60) * 1000;
    s.tokens.set(scope, { token, expires: Date.now() + ttl - 10_000 });
    return token;
  }
}
