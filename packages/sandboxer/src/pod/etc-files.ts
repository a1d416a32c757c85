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

export async function writeEtcFiles(
  dir: string,
  options: { hostname: string; ip?: string | undefined; resolvConfSource: string },
): Promise<EtcFiles> {
  await ensureDir(dir);
  const files: EtcFiles = {
    hosts: join(dir, "hosts"),
    hostname: join(dir, "hostname"),
    resolvConf: join(dir, "resolv.conf"),
  };
  const resolv = await readFile(options.resolvConfSource, "utf8").catch(() => "");
  await writeFileAtomic(files.hosts, hostsContent(options.hostname, options.ip), 0o644);
  await writeFileAtomic(files.hostname, `${options.hostname}\n`, 0o644);
  await writeFileAtomic(files.resolvConf, podResolvConf(resolv), 0o644);
  return files;
}

/** Bind mounts of the pod's files, skipping destinations the spec already mounts. */
export function etcMounts(files: EtcFiles, existing: readonly OciMount[]): OciMount[] {
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
      options: ["rbind", "rprivate", "rw"],
    }));
}
