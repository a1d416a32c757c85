/**
 * Rewrites a container's config.json to live in its sandbox: namespace entries
 * are mapped onto the pod's (pod-namespaces.ts), the cgroup goes under the
 * sandbox cgroup, containers on the pod's network get the pod's /etc files and
 * the pod's sysctls. A namespace the spec leaves out (host network, host ipc)
 * stays out.
 */
import { invalidArgument, messageOf } from "@sandboxd/errdefs";
import type { EtcFiles, OciMount } from "../pod/etc-files.js";
import { etcMounts } from "../pod/etc-files.js";
import type { PodNamespaceView } from "./pod-namespaces.js";
import { mapPodNamespaces } from "./pod-namespaces.js";
import type { IdMapping, PodUserns } from "../pod/pod-config.js";

export interface OciSpec {
  ociVersion?: string;
  process?: { terminal?: boolean; args?: string[]; [k: string]: unknown };
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  mounts?: OciMount[];
  annotations?: Record<string, string>;
  linux?: {
    namespaces?: { type: string; path?: string }[];
    cgroupsPath?: string;
    resources?: Record<string, unknown>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface SandboxView extends PodNamespaceView {
  cgroupsPath: string;
  etc?: EtcFiles | undefined;
  /** The pod's /dev/shm (a tmpfs), shared by the containers in its IPC namespace. */
  shm?: string | undefined;
  /** The pod's user namespace mappings (with namespaces.user): every container gets them. */
  userns?: PodUserns | undefined;
  /** The pod's sysctls (namespaced ones, checked at sandbox create); the container's win. */
  sysctls?: Record<string, string> | undefined;
}

export function parseSpec(bytes: string, where: string): OciSpec {
  let spec: unknown;
  try {
    spec = JSON.parse(bytes);
  } catch (err) {
    throw invalidArgument(`${where}: not valid JSON: ${messageOf(err)}`);
  }
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
    throw invalidArgument(`${where}: not an OCI spec object`);
  }
  return spec as OciSpec;
}

/** A new spec placed in the sandbox; the input is not modified. */
export function placeInSandbox(spec: OciSpec, sandbox: SandboxView): OciSpec {
  const out = structuredClone(spec);
  out.linux ??= {};
  const placed = mapPodNamespaces(out.linux.namespaces ?? [], sandbox);
  out.linux.namespaces = placed.namespaces;
  // The pod named its UTS namespace (or shares the host's); a container must not rename it.
  if (placed.podUts) delete out.hostname;
  out.linux.cgroupsPath = sandbox.cgroupsPath;
  if (sandbox.userns && sandbox.namespaces.user) {
    // runc 1.1 wants the mappings of the user namespace it joins spelled out.
    const map = (m: IdMapping) => [
      { containerID: m.containerId, hostID: m.hostId, size: m.length },
    ];
    out.linux.uidMappings = map(sandbox.userns.uid);
    out.linux.gidMappings = map(sandbox.userns.gid);
  }
  if (placed.podNetwork && sandbox.etc)
    out.mounts = [
      ...(out.mounts ?? []),
      ...etcMounts(sandbox.etc, out.mounts ?? [], out.root?.readonly ?? false),
    ];
  if (placed.podIpc && sandbox.shm) out.mounts = podShm(out.mounts ?? [], sandbox.shm);
  if (sandbox.sysctls && Object.keys(sandbox.sysctls).length > 0) {
    const own = (out.linux.sysctl ?? {}) as Record<string, string>;
    out.linux.sysctl = { ...sandbox.sysctls, ...own };
  }
  return out;
}

/**
 * The container's own /dev/shm tmpfs (runc's default mount) replaced by a bind of the pod's,
 * as CRI's pause world has it; a /dev/shm the client binds itself is kept.
 */
function podShm(mounts: OciMount[], shm: string): OciMount[] {
  const i = mounts.findIndex((m) => m.destination.replace(/\/+$/, "") === "/dev/shm");
  const bind: OciMount = {
    destination: "/dev/shm",
    type: "bind",
    source: shm,
    options: ["rbind", "rprivate", "rw", "nosuid", "nodev", "noexec"],
  };
  if (i < 0) return [...mounts, bind];
  if (mounts[i]?.type !== "tmpfs") return mounts;
  return mounts.map((m, j) => (j === i ? bind : m));
}

export function sandboxIdFromAnnotations(spec: OciSpec): string | undefined {
  const a = spec.annotations ?? {};
  return a["io.kubernetes.cri.sandbox-id"] || a["io.kubernetes.cri-o.SandboxID"] || undefined;
}
