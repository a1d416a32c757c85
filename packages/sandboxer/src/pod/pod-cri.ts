/**
 * What a CRI PodSandboxConfig means for a pod of the sandboxer: the host
 * namespaces it shares, whether its containers share one pid namespace, its
 * sysctls, resolv.conf, cgroup parent and host ports. Refuses what the sandboxer cannot
 * honour, with the field named, before anything is made.
 */
import { isIP } from "node:net";
import { invalidArgument } from "@sandboxd/errdefs";
import type { PortMapping } from "./cni.js";
import type { SandboxRecord } from "../state/records.js";
import type { IdMapping, PodConfig, PodPortMapping, PodUserns } from "./pod-config.js";
import { NamespaceMode, modeName } from "./pod-config.js";
import { cgroupParentPath, checkPodSysctls, dnsResolvConf } from "./pod-settings.js";

export interface CriSettings {
  hostNetwork: boolean;
  sharePid: boolean;
  rec: Pick<
    SandboxRecord,
    | "hostIpc"
    | "hostPid"
    | "userns"
    | "sysctls"
    | "resolvConf"
    | "cgroupParent"
    | "cri"
    | "portMappings"
  >;
}

export function criSettings(c: PodConfig, netnsPath: string | undefined): CriSettings {
  const hostNetwork = c.network === NamespaceMode.NODE;
  const hostIpc = c.ipc === NamespaceMode.NODE;
  const hostPid = c.pid === NamespaceMode.NODE;
  if (c.network !== NamespaceMode.POD && !hostNetwork) {
    throw invalidArgument(
      `PodSandboxConfig: network namespace mode ${modeName(c.network)}: a pod's network is POD or NODE`,
    );
  }
  if (c.ipc !== NamespaceMode.POD && !hostIpc) {
    throw invalidArgument(
      `PodSandboxConfig: ipc namespace mode ${modeName(c.ipc)}: a pod's IPC is POD or NODE`,
    );
  }
  const userns = podUserns(c);
  if (userns && (hostNetwork || hostIpc || c.pid === NamespaceMode.NODE)) {
    throw invalidArgument(
      "PodSandboxConfig: a pod with a user namespace (userns_options mode POD) cannot share the host's network, IPC or PID namespace",
    );
  }
  if (userns && netnsPath) {
    throw invalidArgument(
      `PodSandboxConfig: a pod with a user namespace makes its network namespace inside it, but ${JSON.stringify(netnsPath)} was given`,
    );
  }
  if (hostNetwork && netnsPath) {
    throw invalidArgument(
      `PodSandboxConfig: host network, but a network namespace ${JSON.stringify(netnsPath)} was given`,
    );
  }
  const sysctls = checkPodSysctls(c.sysctls, { network: hostNetwork, ipc: hostIpc });
  const cgroupParent = cgroupParentPath(c.cgroupParent);
  const portMappings = hostNetwork || netnsPath ? [] : hostPorts(c.portMappings);
  return {
    hostNetwork,
    // POD (the default) shares one pid namespace with an init as PID 1; CONTAINER gives
    // each container its own; NODE is the host's.
    sharePid: c.pid === NamespaceMode.POD,
    rec: {
      hostIpc,
      hostPid,
      ...(Object.keys(sysctls).length > 0 ? { sysctls } : {}),
      ...(c.dns ? { resolvConf: dnsResolvConf(c.dns) } : {}),
      ...(cgroupParent ? { cgroupParent } : {}),
      ...(portMappings.length > 0 ? { portMappings } : {}),
      ...(userns ? { userns } : {}),
      cri: { name: c.name, uid: c.uid, namespace: c.namespace, attempt: c.attempt },
    },
  };
}

/**
 * The mappings with a host port, for portmap (containerd skips host_port <= 0
 * the same way: a containerPort alone only documents the pod). A host network
 * pod or one in a netns of its caller's has no CNI of ours, so no host ports.
 */
function hostPorts(list: readonly PodPortMapping[]): PortMapping[] {
  const out: PortMapping[] = [];
  for (const [i, m] of list.entries()) {
    if (m.hostPort <= 0) continue;
    const field = `PodSandboxConfig.port_mappings[${i}]`;
    if (m.hostPort > 65535)
      throw invalidArgument(`${field}: host_port ${m.hostPort} is not a port (1-65535)`);
    if (m.containerPort <= 0 || m.containerPort > 65535)
      throw invalidArgument(`${field}: container_port ${m.containerPort} is not a port (1-65535)`);
    if (m.hostIp && isIP(m.hostIp) === 0)
      throw invalidArgument(`${field}: host_ip ${JSON.stringify(m.hostIp)} is not an IP address`);
    out.push({
      hostPort: m.hostPort,
      containerPort: m.containerPort,
      protocol: m.protocol,
      ...(m.hostIp ? { hostIP: m.hostIp } : {}),
    });
  }
  return out;
}

/**
 * The user namespace a pod asks for, checked as containerd's CRI checks it: NODE (or
 * nothing) is the host's and takes no mappings; POD takes exactly one uid and one gid
 * mapping (what an idmapped rootfs can follow), which must map container id 0;
 * CONTAINER and TARGET do not exist for user namespaces.
 */
export function podUserns(c: PodConfig): PodUserns | undefined {
  const uids = c.usernsUids ?? [];
  const gids = c.usernsGids ?? [];
  const mode = c.userns ?? NamespaceMode.NODE;
  if (mode === NamespaceMode.NODE) {
    if (uids.length > 0 || gids.length > 0)
      throw invalidArgument(
        `PodSandboxConfig: user namespace mode NODE takes no mappings, got ${uids.length} uid and ${gids.length} gid mappings`,
      );
    return undefined;
  }
  if (mode !== NamespaceMode.POD)
    throw invalidArgument(
      `PodSandboxConfig: user namespace mode ${modeName(mode)} is not supported (NODE or POD)`,
    );
  return { uid: oneMapping(uids, "uids"), gid: oneMapping(gids, "gids") };
}

function oneMapping(list: readonly IdMapping[], field: string): IdMapping {
  const where = `PodSandboxConfig: user namespace mode POD: ${field}`;
  if (list.length !== 1)
    throw invalidArgument(`${where}: exactly one mapping is supported, got ${list.length}`);
  const m = list[0]!;
  if (m.length < 1) throw invalidArgument(`${where}: mapping length ${m.length} is not positive`);
  if (m.containerId !== 0)
    throw invalidArgument(
      `${where}: container id 0 must be mapped (the mapping starts at ${m.containerId})`,
    );
  if (m.hostId + m.length > 2 ** 32 - 1)
    throw invalidArgument(`${where}: host ids ${m.hostId}+${m.length} run past 4294967294`);
  return m;
}
