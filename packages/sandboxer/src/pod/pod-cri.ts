/**
 * What a CRI PodSandboxConfig means for a pod of the sandboxer: the host
 * namespaces it shares, whether its containers share one pid namespace, its
 * sysctls, resolv.conf and cgroup parent. Refuses what the sandboxer cannot
 * honour, with the field named, before anything is made.
 */
import { invalidArgument, notImplemented } from "@sandboxd/errdefs";
import type { SandboxRecord } from "../state/records.js";
import type { PodConfig } from "./pod-config.js";
import { NamespaceMode, modeName } from "./pod-config.js";
import { cgroupParentPath, checkPodSysctls, dnsResolvConf } from "./pod-settings.js";

export interface CriSettings {
  hostNetwork: boolean;
  sharePid: boolean;
  rec: Pick<
    SandboxRecord,
    "hostIpc" | "hostPid" | "sysctls" | "resolvConf" | "cgroupParent" | "cri"
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
  if (c.userns !== undefined && c.userns !== NamespaceMode.NODE) {
    throw notImplemented(
      `PodSandboxConfig: user namespace mode ${modeName(c.userns)}: sbx-sandboxer runs pods in the host's user namespace only`,
    );
  }
  if (hostNetwork && netnsPath) {
    throw invalidArgument(
      `PodSandboxConfig: host network, but a network namespace ${JSON.stringify(netnsPath)} was given`,
    );
  }
  const sysctls = checkPodSysctls(c.sysctls, { network: hostNetwork, ipc: hostIpc });
  const cgroupParent = cgroupParentPath(c.cgroupParent);
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
      cri: { name: c.name, uid: c.uid, namespace: c.namespace, attempt: c.attempt },
    },
  };
}
