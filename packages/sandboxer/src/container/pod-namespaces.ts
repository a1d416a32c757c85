/**
 * Which namespaces a container of a pod ends up in. containerd 2.x's CRI builds
 * every container spec with `/proc/<sandbox pid>/ns/{net,ipc,uts[,pid]}`
 * (`WithPodNamespaces`), using the pid the sandbox controller returned; our pods
 * have no process, so that pid is 0 (or the shared pid namespace's init). For a
 * pod the sandboxer owns, the pod decides: such a path (or any path that is not
 * the pod's) becomes the pod's pinned namespace, the netns containerd gave, or
 * no entry at all where the pod shares the host's namespace. A pid namespace
 * path naming one of the pod's own containers is kept (CRI's TARGET mode).
 */
import { invalidArgument } from "@sandboxd/errdefs";
import type { SandboxRecord } from "../state/records.js";

export type PodNsType = "network" | "ipc" | "uts" | "pid" | "user";

export interface OciNamespace {
  type: string;
  path?: string;
}

export interface PodNamespaceView {
  /** The pod's namespace files by OCI type (pinned, the given netns, the shared pid ns). */
  namespaces: Partial<Record<PodNsType, string>>;
  /** Types the pod shares with the host: containers joining the pod's get no entry. */
  host?: Partial<Record<PodNsType, boolean>> | undefined;
  /**
   * The pod decides every set path (a sandbox created through the Sandbox API). False for
   * the implicit one-container pods of `ctr run`, whose client-chosen paths are respected.
   */
  authoritative?: boolean | undefined;
  /** Init pids of the pod's containers: a pid namespace path at one of them is kept. */
  memberPids?: readonly number[] | undefined;
}

export interface NamespacePlacement {
  namespaces: OciNamespace[];
  /** The container is in the pod's (or the host's, for a host pod) UTS namespace. */
  podUts: boolean;
  /** The container is on the pod's network (or the host's, for a host-network pod). */
  podNetwork: boolean;
  /** The container is in the pod's own IPC namespace (and so shares the pod's /dev/shm). */
  podIpc: boolean;
}

const podTypes: readonly string[] = ["network", "ipc", "uts", "pid"];
const procNs = /^\/proc\/(\d+)\/ns\/([a-z_]+)$/;

/** The pid of a `/proc/<pid>/ns/<type>` path, if it is one. */
export function procNsPid(path: string): number | undefined {
  const m = procNs.exec(path);
  return m ? Number(m[1]) : undefined;
}

/** Maps a container's namespace entries onto its pod; the input is not modified. */
export function mapPodNamespaces(
  input: readonly OciNamespace[],
  view: PodNamespaceView,
): NamespacePlacement {
  const out: OciNamespace[] = [];
  let podUts = false;
  let podNetwork = false;
  let podIpc = false;
  const podUser = view.namespaces.user;
  for (const entry of input) {
    const ns = { ...entry };
    if (ns.type === "user" && podUser !== undefined) continue; // the pod's, added below
    if (!podTypes.includes(ns.type)) {
      if (ns.type === "user" && ns.path && view.authoritative && procNsPid(ns.path) !== undefined) {
        throw invalidArgument(
          `namespace user: ${JSON.stringify(ns.path)}: pods of sbx-sandboxer have no user namespace to join`,
        );
      }
      out.push(ns);
      continue;
    }
    const type = ns.type as PodNsType;
    const pinned = view.namespaces[type];
    if (!ns.path) {
      // No path: a namespace of the pod's kind is joined; others stay private.
      if (pinned !== undefined) ns.path = pinned;
      if (pinned !== undefined && type === "uts") podUts = true;
      if (pinned !== undefined && type === "network") podNetwork = true;
      if (pinned !== undefined && type === "ipc") podIpc = true;
      out.push(ns);
      continue;
    }
    if (!view.authoritative || ns.path === pinned) {
      // A path chosen by the client (an implicit pod's netns, a joined container) is respected.
      if (ns.path === pinned && type === "uts") podUts = true;
      if (ns.path === pinned && type === "network") podNetwork = true;
      if (ns.path === pinned && type === "ipc") podIpc = true;
      out.push(ns);
      continue;
    }
    if (type === "pid") {
      const pid = procNsPid(ns.path);
      if (pid !== undefined && pid > 0 && view.memberPids?.includes(pid)) {
        out.push(ns);
        continue;
      }
    }
    if (type === "uts") podUts = true;
    if (type === "network") podNetwork = true;
    if (pinned !== undefined) {
      ns.path = pinned;
      if (type === "ipc") podIpc = true;
      out.push(ns);
    } else if (view.host?.[type]) {
      // The pod shares the host's namespace: no entry means the host's.
      continue;
    } else {
      // Nothing of the pod's to join (a pod without a shared pid namespace): a private one.
      delete ns.path;
      out.push(ns);
    }
  }
  // A pod with a user namespace owns its other namespaces through it: every container
  // joins it, whatever its spec said.
  if (podUser !== undefined) out.push({ type: "user", path: podUser });
  return { namespaces: out, podUts, podNetwork, podIpc };
}

/** The OCI namespace paths a pod's containers join. */
function podNamespacePaths(r: SandboxRecord): Partial<Record<PodNsType, string>> {
  const out: Partial<Record<PodNsType, string>> = {};
  const net = r.netnsPath ?? r.pins?.net;
  if (net) out.network = net;
  if (r.pins?.ipc) out.ipc = r.pins.ipc;
  if (r.pins?.uts) out.uts = r.pins.uts;
  if (r.pins?.user) out.user = r.pins.user;
  if (r.pidHolder) out.pid = `/proc/${r.pidHolder.initPid}/ns/pid`;
  return out;
}

/** How containers are placed in the namespaces of the pod recorded as `r`. */
export function podNamespaceView(
  r: SandboxRecord,
  memberPids: readonly number[],
): PodNamespaceView {
  return {
    namespaces: podNamespacePaths(r),
    host: {
      network: r.hostNetwork,
      uts: r.hostNetwork,
      ipc: r.hostIpc ?? false,
      pid: r.hostPid ?? false,
    },
    authoritative: !r.implicit,
    memberPids,
  };
}
