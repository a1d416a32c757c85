/**
 * The pod's /etc/hosts, /etc/hostname and /etc/resolv.conf: written once per
 * sandbox and bind-mounted into each container that shares the pod's network,
 * so all containers of a pod see the same names (what the pause-container world
 * gets from CRI).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ensureDir, writeFileAtomic } from "../state/atomic.js";

export interface EtcFiles {
  hosts: string;
  hostname: string;
  resolvConf: string;
}

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export function hostsContent(hostname: string, ip: string | undefined): string {
  const lines = [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "fe00::0\tip6-mcastprefix",
    "fe00::1\tip6-allnodes",
    "fe00::2\tip6-allrouters",
  ];
  lines.push(`${ip ?? "127.0.1.1"}\t${hostname}`);
  return `${lines.join("\n")}\n`;
}

/** The host's resolv.conf without loopback resolvers, which a pod's netns cannot reach. */
export function podResolvConf(hostResolvConf: string): string {
  const kept = hostResolvConf
    .split("\n")
    .filter((line) => !/^\s*nameserver\s+(127\.|::1\b)/.test(line));
  const text = kept.join("\n").trim();
  return text === "" ? "" : `${text}\n`;
}

export interface EtcOptions {
  hostname: string;
  ip?: string | undefined;
  /** The host's resolv.conf (copied when the pod has no DNS config). */
  resolvConfSource: string;
  /** The pod's resolv.conf, from CRI's dns_config. */
  resolvConf?: string | undefined;
  /** A host-network pod sees the host's hosts file and resolvers, as with a pause container. */
  hostNetwork?: boolean | undefined;
}

export async function writeEtcFiles(dir: string, options: EtcOptions): Promise<EtcFiles> {
  await ensureDir(dir, 0o711, false);
  const files: EtcFiles = {
    hosts: join(dir, "hosts"),
    hostname: join(dir, "hostname"),
    resolvConf: join(dir, "resolv.conf"),
  };
  const resolv =
    options.resolvConf ??
    (await readFile(options.resolvConfSource, "utf8").then(
      (text) => (options.hostNetwork ? text : podResolvConf(text)),
      () => "",
    ));
  const hosts = options.hostNetwork
    ? await readFile("/etc/hosts", "utf8").catch(() => hostsContent(options.hostname, undefined))
    : hostsContent(options.hostname, options.ip);
  // Not fsynced: the pod they serve lives no longer than a machine crash (see writeFileAtomic).
  await Promise.all([
    writeFileAtomic(files.hosts, hosts, 0o644, false),
    writeFileAtomic(files.hostname, `${options.hostname}\n`, 0o644, false),
    writeFileAtomic(files.resolvConf, resolv, 0o644, false),
  ]);
  return files;
}

/**
 * Bind mounts of the pod's files, skipping destinations the spec already mounts; read-only
 * for a container with a read-only root filesystem (as CRI mounts them).
 */
export function etcMounts(
  files: EtcFiles,
  existing: readonly OciMount[],
  readonly = false,
): OciMount[] {
  const taken = new Set(existing.map((m) => m.destination.replace(/\/+$/, "")));
  const wanted: [string, string][] = [
    ["/etc/hosts", files.hosts],
    ["/etc/hostname", files.hostname],
    ["/etc/resolv.conf", files.resolvConf],
  ];
  return wanted
    .filter(([dest]) => !taken.has(dest))
    .map(([destination, source]) => ({
      destination,
      type: "bind",
      source,
      options: ["rbind", "rprivate", readonly ? "ro" : "rw"],
    }));
}
