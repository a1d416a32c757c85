/**
 * Rewrites a container's config.json to live in its sandbox: namespace entries
 * the pod pins get the pinned file's path, the cgroup goes under the sandbox
 * cgroup, and containers on the pod's network get the pod's /etc files. A
 * namespace the spec leaves out (host network, host ipc) stays out.
 */
import { invalidArgument, messageOf } from "@sandboxd/errdefs";
import type { EtcFiles, OciMount } from "../pod/etc-files.js";
import { etcMounts } from "../pod/etc-files.js";

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

export interface SandboxView {
  /** Pinned namespace files by OCI type (network, ipc, uts, pid). */
  namespaces: Partial<Record<"network" | "ipc" | "uts" | "pid", string>>;
  cgroupsPath: string;
  etc?: EtcFiles | undefined;
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
  const namespaces = out.linux.namespaces ?? [];
  let joinedUts = false;
  let joinedNet = false;
  for (const ns of namespaces) {
    const type = ns.type as keyof SandboxView["namespaces"];
    const pinned = sandbox.namespaces[type];
    if (pinned === undefined) continue;
    // A path chosen by the client (CRI's netns, a joined container) is respected.
    if (ns.path) continue;
    ns.path = pinned;
    if (type === "uts") joinedUts = true;
    if (type === "network") joinedNet = true;
  }
  out.linux.namespaces = namespaces;
  // The pod named its UTS namespace; a container joining it must not rename the pod.
  if (joinedUts) delete out.hostname;
  out.linux.cgroupsPath = sandbox.cgroupsPath;
  if (joinedNet && sandbox.etc)
    out.mounts = [...(out.mounts ?? []), ...etcMounts(sandbox.etc, out.mounts ?? [])];
  return out;
}

export function sandboxIdFromAnnotations(spec: OciSpec): string | undefined {
  const a = spec.annotations ?? {};
  return a["io.kubernetes.cri.sandbox-id"] || a["io.kubernetes.cri-o.SandboxID"] || undefined;
}
