/**
 * Registry hosts in containerd's hosts.toml form (docs/hosts.md; core/remotes/docker/config):
 * `config_path` is one or more directories (`:`-separated); the registry `host:port` has
 * its own directory (`host_port_` or `host:port`), else `_default`; in its `hosts.toml`
 * the `[host."…"]` tables are tried in file order, then `server` (the upstream), each with
 * `capabilities` (pull, resolve, push), `ca`, `skip_verify`, `header` and `override_path`.
 * Files are read on every resolve, so edits apply without a restart. Image names keep
 * their upstream form: `registry.k8s.io/pause:3.10` may be served by a local mirror.
 */
import { readFileSync, statSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { invalidArgument, messageOf } from "@sandboxd/errdefs";
import { parse } from "smol-toml";
import {
  isLocalhost,
  type Capability,
  type HostsResolver,
  type RegistryEndpoint,
} from "../distribution/client.js";

const allCapabilities: Capability[] = ["pull", "resolve", "push"];

interface HostFields {
  capabilities?: unknown;
  ca?: unknown;
  skip_verify?: unknown;
  header?: unknown;
  override_path?: unknown;
}

/** `host:port` → `host_port_` (containerd's hostDirectory). */
export function hostDirectory(host: string): string {
  const i = host.lastIndexOf(":");
  return i > 0 && !host.endsWith("]") ? `${host.slice(0, i)}_${host.slice(i + 1)}_` : host;
}

function exists(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The directory configuring `host`, if any (first match over the config paths). */
export function hostDir(configPath: string, host: string): string | undefined {
  for (const root of configPath.split(":").filter((p) => p !== "")) {
    for (const name of [hostDirectory(host), host, "_default"]) {
      const dir = join(root, name);
      if (exists(dir)) return dir;
    }
  }
  return undefined;
}

function strings(value: unknown, what: string, file: string): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value;
  throw invalidArgument(`${file}: ${what} must be a string or a list of strings`);
}

function endpoint(server: string, fields: HostFields, dir: string, file: string): RegistryEndpoint {
  const url = new URL(/^https?:\/\//.test(server) ? server : `https://${server}`);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalidArgument(`${file}: host "${server}" must be http or https`);
  }
  let path = url.pathname.replace(/\/+$/, "");
  if (fields.override_path !== true && !path.endsWith("/v2")) path = `${path}/v2`;
  const capabilities =
    fields.capabilities === undefined
      ? allCapabilities
      : strings(fields.capabilities, "capabilities", file).map((c) => {
          const lower = c.toLowerCase();
          if (lower !== "pull" && lower !== "resolve" && lower !== "push") {
            throw invalidArgument(
              `${file}: unknown capability "${c}" for ${server} (pull, resolve, push)`,
            );
          }
          return lower;
        });
  const ca =
    fields.ca === undefined
      ? undefined
      : strings(fields.ca, "ca", file).map((p) => (isAbsolute(p) ? p : join(dir, p)));
  if (fields.skip_verify !== undefined && typeof fields.skip_verify !== "boolean") {
    throw invalidArgument(`${file}: skip_verify must be true or false`);
  }
  const headers: Record<string, string> = {};
  if (fields.header !== undefined) {
    if (typeof fields.header !== "object" || fields.header === null)
      throw invalidArgument(`${file}: header must be a table`);
    for (const [k, v] of Object.entries(fields.header))
      headers[k.toLowerCase()] = strings(v, `header ${k}`, file).join(", ");
  }
  const tls =
    ca || fields.skip_verify !== undefined
      ? {
          ...(ca ? { ca: ca.map((p) => readFileSync(p)) } : {}),
          ...(fields.skip_verify !== undefined ? { skipVerify: fields.skip_verify } : {}),
        }
      : undefined;
  return {
    scheme: url.protocol === "http:" ? "http" : "https",
    host: url.host,
    path,
    capabilities,
    ...(tls ? { tls } : {}),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
  };
}

/** The upstream endpoint when hosts.toml names no `server` (or there is no hosts.toml). */
function upstream(domain: string, fields: HostFields, dir: string, file: string): RegistryEndpoint {
  if (domain === "docker.io") return endpoint("https://registry-1.docker.io", fields, dir, file);
  return endpoint(`${isLocalhost(domain) ? "http" : "https"}://${domain}`, fields, dir, file);
}

/** Parses one hosts.toml for registry `domain`; `dir` resolves relative `ca` paths. */
export function parseHostsToml(
  text: string,
  domain: string,
  dir: string,
  file = join(dir, "hosts.toml"),
): RegistryEndpoint[] {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text);
  } catch (err) {
    throw invalidArgument(`${file}: ${messageOf(err).split("\n")[0]}`);
  }
  const hosts = (doc.host ?? {}) as Record<string, HostFields>;
  if (typeof hosts !== "object") throw invalidArgument(`${file}: host must be a table of tables`);
  // smol-toml keeps tables in file order, which is the order containerd tries them in.
  const out = Object.entries(hosts).map(([server, fields]) => endpoint(server, fields, dir, file));
  const server = doc.server;
  if (server !== undefined && typeof server !== "string")
    throw invalidArgument(`${file}: server must be a string`);
  out.push(server ? endpoint(server, doc, dir, file) : upstream(domain, doc, dir, file));
  return out;
}

/** A hosts resolver over `configPath` (containerd's `config_path`); defaults where none is configured. */
export function configureHosts(configPath: string | undefined): HostsResolver {
  return (domain) => {
    const dir = configPath ? hostDir(configPath, domain) : undefined;
    if (!dir) return [upstream(domain, {}, "", "(default)")];
    const file = join(dir, "hosts.toml");
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      return [upstream(domain, {}, dir, file)];
    }
    return parseHostsToml(text, domain, dir, file);
  };
}
