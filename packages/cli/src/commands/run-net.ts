// `sbx run -p [IP:]HOST:CTR[/PROTO]` as port mappings, and --env-file as KEY=VALUE lines.
import { callerPath } from "../caller.js";
import type { Caller } from "../caller.js";
import { readFileSync } from "node:fs";
import type { PortMapping } from "@sandboxd/client";
import { invalidArgument, messageOf } from "@sandboxd/errdefs";

function port(spec: string, what: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) {
    throw invalidArgument(
      `run: --publish ${JSON.stringify(spec)}: ${what} ${JSON.stringify(text)} is not a port (1-65535)`,
    );
  }
  return n;
}

/** `[IP:]HOST:CTR[/tcp|udp|sctp]`; an IPv6 address in brackets (`[::1]:8080:80`). */
export function parsePublish(spec: string): PortMapping {
  let rest = spec;
  let protocol: PortMapping["protocol"] = "tcp";
  const slash = rest.lastIndexOf("/");
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== "tcp" && p !== "udp" && p !== "sctp") {
      throw invalidArgument(
        `run: --publish ${JSON.stringify(spec)}: protocol ${JSON.stringify(p)} (tcp, udp or sctp)`,
      );
    }
    protocol = p;
    rest = rest.slice(0, slash);
  }
  let hostIp: string | undefined;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(rest);
  if (v6) {
    hostIp = v6[1];
    rest = v6[2]!;
  }
  const parts = rest.split(":");
  if (!hostIp && parts.length === 3) hostIp = parts.shift();
  if (parts.length !== 2 || hostIp === "") {
    throw invalidArgument(
      `run: --publish ${JSON.stringify(spec)}: want [IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp] (a host port is required)`,
    );
  }
  if (hostIp !== undefined && !/^[0-9a-fA-F:.]+$/.test(hostIp)) {
    throw invalidArgument(
      `run: --publish ${JSON.stringify(spec)}: ${JSON.stringify(hostIp)} is not an IP address`,
    );
  }
  return {
    protocol,
    hostPort: port(spec, "host port", parts[0]!),
    containerPort: port(spec, "container port", parts[1]!),
    ...(hostIp !== undefined && hostIp !== "0.0.0.0" ? { hostIp } : {}),
  };
}

/**
 * docker's --env-file: `KEY=VALUE` lines taken as they are (no quotes, no expansion),
 * `#` comments and blank lines skipped, a bare `KEY` taken from sbx's own environment
 * (and left out when unset there).
 */
export function readEnvFile(
  path: string,
  env: Record<string, string | undefined>,
  caller: Caller,
): string[] {
  let text: string;
  try {
    text = readFileSync(callerPath(caller, path), "utf8");
  } catch (err) {
    throw invalidArgument(`run: --env-file ${JSON.stringify(path)}: ${messageOf(err)}`);
  }
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\s+/, "");
    if (line === "" || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    const key = eq < 0 ? line.trimEnd() : line.slice(0, eq);
    if (key === "" || /\s/.test(key)) {
      throw invalidArgument(
        `run: --env-file ${JSON.stringify(path)} line ${i + 1}: ${JSON.stringify(raw)} is not KEY=VALUE`,
      );
    }
    if (eq >= 0) out.push(line);
    else if (env[key] !== undefined) out.push(`${key}=${env[key]}`);
  });
  return out;
}
