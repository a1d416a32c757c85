/**
 * What is persisted about sandboxes and containers. Everything needed to answer
 * Status/State/Wait and to clean up after a crash is on disk; exit codes come
 * from the files conmon writes, never only from memory.
 */
import { failedPrecondition } from "@sandboxd/errdefs";
import type { CniResult, PortMapping } from "../pod/cni.js";
import type { EtcFiles } from "../pod/etc-files.js";
import type { PidHolder, PinnedNamespaces } from "../pod/namespaces.js";
import type { LinuxResources } from "../pod/resources.js";
import type { PodUserns } from "../pod/pod-config.js";

export const recordVersion = 1;

/**
 * A record read back from disk, checked before use: a JSON object of this
 * sbx-sandboxer's `recordVersion`. A record of another version (written by a
 * newer sandboxer) or not an object is refused with FailedPrecondition naming
 * the file, instead of being misread.
 */
export function checkRecord<T extends { version: number }>(value: unknown, path: string): T {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw failedPrecondition(`state record ${path}: not a JSON object`);
  }
  const version = (value as { version?: unknown }).version;
  if (version !== recordVersion) {
    throw failedPrecondition(
      `state record ${path}: version ${JSON.stringify(version)}, this sbx-sandboxer reads version ${recordVersion}`,
    );
  }
  return value as T;
}

export type SandboxState = "created" | "ready" | "stopped";

export interface SandboxRecord {
  version: number;
  id: string;
  namespace: string;
  /** Made for a task that named no sandbox (`ctr run`); removed with its last container. */
  implicit: boolean;
  state: SandboxState;
  createdAt: number;
  startedAt?: number | undefined;
  exitedAt?: number | undefined;
  exitStatus?: number | undefined;
  hostname: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** A netns given by the caller (Create's netns_path): used as is, never torn down. */
  netnsPath?: string | undefined;
  /** No network namespace of its own: containers share the host's. */
  hostNetwork: boolean;
  sharePid: boolean;
  /** Shares the host's IPC namespace (CRI ipc NODE). */
  hostIpc?: boolean | undefined;
  /** The pod's own user namespace (CRI userns_options mode POD): its mappings; pinned in pins.user. */
  userns?: PodUserns | undefined;
  /** Shares the host's pid namespace (CRI pid NODE). */
  hostPid?: boolean | undefined;
  /** Namespaced sysctls of the pod (CRI), applied through each container's spec. */
  sysctls?: Record<string, string> | undefined;
  /** The pod's resolv.conf from CRI's dns_config (absent: derived from the host's). */
  resolvConf?: string | undefined;
  /** kubelet's pod cgroup (relative cgroupfs path): the sandbox cgroup goes below it. */
  cgroupParent?: string | undefined;
  /** Ancestors of the sandbox cgroup this pod created, removed with it when empty. */
  cgroupCreated?: string[] | undefined;
  /** The pod's /dev/shm tmpfs (pods with their own IPC namespace made through the Sandbox API). */
  shm?: string | undefined;
  /** CRI host ports (portmap), kept so a DEL after a restart removes their iptables rules. */
  portMappings?: PortMapping[] | undefined;
  /** CRI metadata (name, uid, namespace, attempt), for Status.info. */
  cri?: { name: string; uid: string; namespace: string; attempt: number } | undefined;
  /** The whole sandbox cgroup is frozen. */
  frozen?: boolean | undefined;
  /** Steps that were done, so cleanup undoes exactly those. */
  pins?: PinnedNamespaces | undefined;
  pidHolder?: PidHolder | undefined;
  cgroup?: string | undefined;
  network?:
    | {
        containerId: string;
        netns: string;
        result: CniResult;
        ip?: string | undefined;
        gateway?: string | undefined;
      }
    | undefined;
  etc?: EtcFiles | undefined;
  /** The sandbox's OCI spec as given (JSON), for Platform/Status extras. */
  spec?: unknown;
}

/** "creating": create() had begun when the record was written; recovery undoes it. */
export type ProcessStatus = "creating" | "created" | "running" | "stopped";

export interface Stdio {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

export interface ContainerRecord {
  version: number;
  id: string;
  namespace: string;
  sandboxId: string;
  bundle: string;
  /** Rootfs mounts we made on <bundle>/rootfs (empty: root.path used as is). */
  mounted: boolean;
  stdio: Stdio;
  cgroupsPath: string;
  resources?: LinuxResources | undefined;
  status: ProcessStatus;
  /** Frozen by Task Pause (runc pause). */
  paused?: boolean | undefined;
  /** The socat copying stdin into a terminal's attach socket. */
  ttyInputPid?: number | undefined;
  pid: number;
  conmonPid: number;
  createdAt: number;
  startedAt?: number | undefined;
  /** From conmon's exit file; copied here once read. */
  exitStatus?: number | undefined;
  exitedAt?: number | undefined;
  /** The /tasks/exit event was queued (so a restart does not send it twice). */
  exitPublished?: boolean | undefined;
}

export interface ExecRecord {
  version: number;
  id: string;
  containerId: string;
  namespace: string;
  stdio: Stdio;
  status: ProcessStatus;
  pid: number;
  conmonPid: number;
  createdAt: number;
  startedAt?: number | undefined;
  exitStatus?: number | undefined;
  exitedAt?: number | undefined;
  exitPublished?: boolean | undefined;
  ttyInputPid?: number | undefined;
}

export interface EventsRegistration {
  namespace: string;
  /** containerd's ttrpc address (TTRPC_ADDRESS), a plain path. */
  ttrpcAddress: string;
  registeredAt: number;
}
