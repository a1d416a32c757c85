/**
 * Where registry credentials come from: a static map (the SDK's `credentials` option,
 * sandboxd's config) and Docker's config.json `auths` (what `docker login` writes), keyed
 * by the host a request goes to. Docker Hub's aliases all mean registry-1.docker.io.
 */
import { readFileSync } from "node:fs";
import { invalidArgument } from "@sandboxd/errdefs";
import type { Credentials, CredentialsProvider } from "./auth.js";

const dockerHub = new Set([
  "docker.io",
  "index.docker.io",
  "registry-1.docker.io",
  "registry.hub.docker.com",
]);

/** `https://index.docker.io/v1/` → `registry-1.docker.io`; `http://h:5000/x` → `h:5000`. */
export function credentialsKey(hostOrUrl: string): string {
  const host = hostOrUrl
    .replace(/^[a-z]+:\/\//i, "")
    .replace(/\/.*$/, "")
    .toLowerCase();
  return dockerHub.has(host) ? "registry-1.docker.io" : host;
}

/** Credentials from a map of host (or URL) → credentials. */
export function staticCredentials(map: Readonly<Record<string, Credentials>>): CredentialsProvider {
  const byHost = new Map(Object.entries(map).map(([k, v]) => [credentialsKey(k), v]));
  return (host) => byHost.get(credentialsKey(host));
}

interface DockerAuth {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** Parses a Docker config.json's `auths`. */
export function parseDockerConfig(text: string, file = "config.json"): Record<string, Credentials> {
  let doc: { auths?: Record<string, DockerAuth> };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    throw invalidArgument(`${file} is not valid JSON`);
  }
  const out: Record<string, Credentials> = {};
  for (const [key, a] of Object.entries(doc.auths ?? {})) {
    let username = a.username;
    let password = a.password;
    if (a.auth) {
      const decoded = Buffer.from(a.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon < 0)
        throw invalidArgument(`${file}: auths["${key}"].auth is not base64 of user:password`);
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
    out[key] = {
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(a.identitytoken ? { identityToken: a.identitytoken } : {}),
      ...(a.registrytoken ? { registryToken: a.registrytoken } : {}),
    };
  }
  return out;
}

/** Credentials from a Docker config.json, read on each lookup (a missing file means none). */
export function dockerConfigCredentials(path: string): CredentialsProvider {
  return (host) => {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    return staticCredentials(parseDockerConfig(text, path))(host);
  };
}

/** The first provider that has credentials for the host wins. */
export function chainCredentials(
  ...providers: readonly (CredentialsProvider | undefined)[]
): CredentialsProvider {
  return async (host) => {
    for (const p of providers) {
      const c = await p?.(host);
      if (c) return c;
    }
    return undefined;
  };
}
