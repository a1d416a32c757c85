/**
 * Checks and conversions of the pod settings CRI sends: sysctls (only the
 * pod's own namespaces may be changed, as runc enforces for a pause
 * container), the cgroup parent (kubelet's pod cgroup, cgroupfs or systemd
 * slice form) and the DNS configuration that becomes the pod's resolv.conf.
 */
import { invalidArgument } from "@sandboxd/errdefs";
import type { DnsConfig } from "./pod-config.js";

export type SysctlNamespace = "ipc" | "network" | "uts";

const ipcSysctls = new Set([
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);

/** The namespace a sysctl belongs to, or undefined when it is node-wide. */
function sysctlNamespace(name: string): SysctlNamespace | undefined {
  const key = name.replace(/\//g, ".");
  if (ipcSysctls.has(key) || key.startsWith("fs.mqueue.")) return "ipc";
  if (key.startsWith("net.")) return "network";
  if (key === "kernel.domainname") return "uts";
  return undefined;
}

/**
 * Refuses sysctls a pod cannot own: node-wide ones, network ones for a pod on
 * the host's network, IPC ones for a pod in the host's IPC namespace.
 */
export function checkPodSysctls(
  sysctls: Record<string, string>,
  host: { network: boolean; ipc: boolean },
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(sysctls)) {
    const ns = sysctlNamespace(name);
    if (ns === undefined) {
      throw invalidArgument(
        `sysctl ${JSON.stringify(name)}: not namespaced; a pod may only set sysctls of its own IPC, network or UTS namespace`,
      );
    }
    if (ns === "network" && host.network)
      throw invalidArgument(
        `sysctl ${JSON.stringify(name)}: not allowed in host network namespace`,
      );
    if (ns === "ipc" && host.ipc)
      throw invalidArgument(`sysctl ${JSON.stringify(name)}: not allowed in host IPC namespace`);
    if (ns === "uts" && host.network)
      throw invalidArgument(`sysctl ${JSON.stringify(name)}: not allowed in host UTS namespace`);
    out[name.replace(/\//g, ".")] = value;
  }
  return out;
}

/**
 * kubelet's cgroup parent as a relative cgroupfs path. A systemd slice name
 * (`kubepods-burstable-pod1.slice`) is expanded the way systemd lays it out
 * (`kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice`).
 */
export function cgroupParentPath(parent: string): string {
  const trimmed = parent.replace(/^\/+/, "").replace(/\/+$/, "");
  if (trimmed === "") return "";
  const parts = trimmed.split("/");
  if (parts.some((p) => p === "" || p === "." || p === ".."))
    throw invalidArgument(`cgroup parent ${JSON.stringify(parent)}: not a clean cgroup path`);
  if (parts.length === 1 && trimmed.endsWith(".slice") && trimmed !== "-.slice") {
    const name = trimmed.slice(0, -".slice".length);
    const words = name.split("-");
    if (words.some((w) => w === ""))
      throw invalidArgument(`cgroup parent ${JSON.stringify(parent)}: not a valid slice name`);
    return words.map((_, i) => `${words.slice(0, i + 1).join("-")}.slice`).join("/");
  }
  return trimmed;
}

/** resolv.conf from a pod's DNS config, in the form containerd writes it. */
export function dnsResolvConf(dns: DnsConfig): string {
  const lines: string[] = [];
  if (dns.searches.length > 0) lines.push(`search ${dns.searches.join(" ")}`);
  for (const server of dns.servers) lines.push(`nameserver ${server}`);
  if (dns.options.length > 0) lines.push(`options ${dns.options.join(" ")}`);
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
