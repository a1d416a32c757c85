// The OCI runtime-spec (v1.1) as JSON, for Linux: the fields sandboxd and runc
// read. Unknown fields are kept (index signatures), so a spec read from the
// daemon round-trips unchanged.
import type { LinuxSeccomp } from "@sandboxd/core/oci";

/** OCI runtime-spec version written by {@link defaultSpec}. */
export const OCI_VERSION = "1.1.0";

/** A whole container configuration (config.json). */
export interface Spec {
  ociVersion: string;
  process?: Process;
  root?: Root;
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Record<string, unknown>;
  annotations?: Record<string, string>;
  linux?: Linux;
  [field: string]: unknown;
}

/** The process to run (also the payload of an exec). */
export interface Process {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: User;
  args?: string[];
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
  [field: string]: unknown;
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

export interface Capabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface Rlimit {
  type: string;
  hard: number;
  soft: number;
}

export interface Root {
  /** Absolute, or relative to the bundle (`rootfs`). */
  path: string;
  readonly?: boolean;
}

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/** Linux namespace kinds. */
export const NamespaceType = {
  Pid: "pid",
  Network: "network",
  Mount: "mount",
  Ipc: "ipc",
  Uts: "uts",
  User: "user",
  Cgroup: "cgroup",
  Time: "time",
} as const;
export type NamespaceType = (typeof NamespaceType)[keyof typeof NamespaceType];

export interface LinuxNamespace {
  type: NamespaceType;
  /** Join this namespace instead of creating one. */
  path?: string;
}

export interface LinuxDeviceCgroup {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: { limit?: number; reservation?: number; swap?: number; [field: string]: unknown };
  cpu?: {
    shares?: number;
    quota?: number;
    period?: number;
    cpus?: string;
    mems?: string;
    [field: string]: unknown;
  };
  pids?: { limit: number };
  [field: string]: unknown;
}

export interface LinuxIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface Linux {
  namespaces?: LinuxNamespace[];
  uidMappings?: LinuxIdMapping[];
  gidMappings?: LinuxIdMapping[];
  devices?: Record<string, unknown>[];
  cgroupsPath?: string;
  resources?: LinuxResources;
  sysctl?: Record<string, string>;
  seccomp?: LinuxSeccomp;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  [field: string]: unknown;
}
