// containerd's default Linux spec (oci.populateDefaultUnixSpec) plus option
// functions in the style of its oci.SpecOpts.
import type { Any } from "@bufbuild/protobuf/wkt";
import { JsonTypeUrl, packJson, unpackJson } from "@sandboxd/api/names";
import {
  DEFAULT_CAPABILITIES as CORE_CAPABILITIES,
  DEFAULT_MASKED_PATHS as CORE_MASKED_PATHS,
  DEFAULT_READONLY_PATHS as CORE_READONLY_PATHS,
  runtimeDefaultSeccomp,
  type LinuxSeccomp,
} from "@sandboxd/core/oci";
import { invalidArgument } from "@sandboxd/errdefs";
import type { LinuxNamespace, Mount, Process, Spec } from "./types.js";
import { NamespaceType, OCI_VERSION } from "./types.js";

/** Changes a spec in place; applied in order by {@link defaultSpec}. */
export type SpecOpt = (spec: Spec) => void;

/** The inputs of {@link defaultSpec}; every field is optional. */
export interface DefaultSpecOptions {
  /** The container id: used for the cgroup path (`/<namespace>/<id>`). */
  id?: string;
  /** The namespace, for the cgroup path (default `default`). */
  namespace?: string;
  /** The command and its arguments (default `["sh"]`). */
  args?: readonly string[];
  /** Extra environment, `KEY=VALUE`; replaces a default of the same key. */
  env?: readonly string[];
  /** Working directory (default `/`). */
  cwd?: string;
  /** Give the process a terminal. */
  terminal?: boolean;
  /** The root filesystem directory (default `rootfs`, relative to the bundle). */
  rootfs?: string;
  /** The UTS hostname (default: none, the runtime keeps the host's inside a new UTS namespace). */
  hostname?: string;
  /** Mount the root filesystem read-only. */
  readonlyRootfs?: boolean;
  /**
   * The seccomp filter: `"runtime-default"` (the default, as nerdctl and podman
   * do) is containerd's RuntimeDefault profile computed for the capability set
   * the spec has after every option; `"unconfined"` applies none; or a profile.
   */
  seccomp?: "runtime-default" | "unconfined" | LinuxSeccomp;
}

/** `PATH` as containerd sets it for images without one. */
export const DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The capabilities containerd grants by default (oci.defaultUnixCaps). */
export const DEFAULT_CAPABILITIES: readonly string[] = CORE_CAPABILITIES;

/** Paths hidden from the container (oci.populateDefaultUnixSpec). */
export const DEFAULT_MASKED_PATHS: readonly string[] = CORE_MASKED_PATHS;

/** Paths made read-only in the container. */
export const DEFAULT_READONLY_PATHS: readonly string[] = CORE_READONLY_PATHS;

/** The namespaces a new container gets (oci.defaultUnixNamespaces). */
export const DEFAULT_NAMESPACES: readonly NamespaceType[] = [
  NamespaceType.Pid,
  NamespaceType.Ipc,
  NamespaceType.Uts,
  NamespaceType.Mount,
  NamespaceType.Network,
];

/** The kernel filesystems every container gets (oci.defaultMounts). */
export function defaultMounts(): Mount[] {
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    {
      destination: "/dev/mqueue",
      type: "mqueue",
      source: "mqueue",
      options: ["nosuid", "noexec", "nodev"],
    },
    {
      destination: "/sys",
      type: "sysfs",
      source: "sysfs",
      options: ["nosuid", "noexec", "nodev", "ro"],
    },
    {
      destination: "/run",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
  ];
}

/**
 * A runc-compatible Linux spec with containerd's defaults (namespaces, kernel
 * mounts, capabilities, masked and read-only paths, a deny-all device cgroup),
 * changed by `opts` in order, then (unless `seccomp` says otherwise or an
 * option set one) the RuntimeDefault seccomp profile for its final capabilities.
 *
 * @example
 * const spec = defaultSpec({ id: "web", args: ["httpd", "-f"], rootfs: "/srv/rootfs" },
 *   withMemoryLimit(64 << 20));
 */
export function defaultSpec(options: DefaultSpecOptions = {}, ...opts: SpecOpt[]): Spec {
  const caps = [...DEFAULT_CAPABILITIES];
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: options.terminal ?? false,
      user: { uid: 0, gid: 0 },
      args: [...(options.args ?? ["sh"])],
      env: mergeEnv([DEFAULT_PATH_ENV], options.env ?? []),
      cwd: options.cwd ?? "/",
      capabilities: { bounding: caps, effective: [...caps], permitted: [...caps] },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: options.rootfs ?? "rootfs", readonly: options.readonlyRootfs ?? false },
    mounts: defaultMounts(),
    linux: {
      namespaces: DEFAULT_NAMESPACES.map((type) => ({ type })),
      resources: { devices: [{ allow: false, access: "rwm" }] },
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  if (options.hostname !== undefined) spec.hostname = options.hostname;
  if (options.id !== undefined) {
    spec.linux!.cgroupsPath = `/${options.namespace ?? "default"}/${options.id}`;
  }
  for (const opt of opts) opt(spec);
  const seccomp = options.seccomp ?? "runtime-default";
  const linux = (spec.linux ??= {});
  if (seccomp === "unconfined") delete linux.seccomp;
  else if (typeof seccomp === "object") linux.seccomp = seccomp;
  else if (linux.seccomp === undefined) linux.seccomp = runtimeDefaultFor(spec);
  return spec;
}

/** RuntimeDefault profiles defaultSpec made, so that they can follow later capability changes. */
const madeProfiles = new WeakSet<object>();

function runtimeDefaultFor(spec: Spec): LinuxSeccomp {
  const profile = runtimeDefaultSeccomp(spec.process?.capabilities?.bounding ?? []);
  madeProfiles.add(profile);
  return profile;
}

/**
 * Applies `opts` to a spec defaultSpec made, then brings its RuntimeDefault
 * seccomp profile up to date with the capabilities they left (a profile an
 * option removed or replaced stays as the option left it).
 */
export function applySpecOpts(spec: Spec, opts: readonly SpecOpt[]): Spec {
  for (const opt of opts) opt(spec);
  const current = spec.linux?.seccomp;
  if (spec.linux && current && madeProfiles.has(current))
    spec.linux.seccomp = runtimeDefaultFor(spec);
  return spec;
}

/** Environment `base` with `extra` applied: a `KEY=VALUE` replaces the same KEY, a bare `KEY` removes it. */
export function mergeEnv(base: readonly string[], extra: readonly string[]): string[] {
  const out = new Map<string, string>();
  for (const entry of [...base, ...extra]) {
    const eq = entry.indexOf("=");
    if (eq < 0) out.delete(entry);
    else out.set(entry.slice(0, eq), entry);
  }
  return [...out.values()];
}

function processOf(spec: Spec): Process {
  return (spec.process ??= { user: { uid: 0, gid: 0 }, cwd: "/" });
}

/** Sets the command and its arguments. */
export function withArgs(...args: string[]): SpecOpt {
  return (spec) => {
    processOf(spec).args = args;
  };
}

/** Adds or replaces environment variables (`KEY=VALUE`; a bare `KEY` removes it). */
export function withEnv(env: readonly string[]): SpecOpt {
  return (spec) => {
    const process = processOf(spec);
    process.env = mergeEnv(process.env ?? [], env);
  };
}

/** Sets the working directory. */
export function withCwd(cwd: string): SpecOpt {
  return (spec) => {
    processOf(spec).cwd = cwd;
  };
}

/** Gives the process a terminal (or takes it away), optionally with an initial size. */
export function withTerminal(terminal = true, size?: { width: number; height: number }): SpecOpt {
  return (spec) => {
    const process = processOf(spec);
    process.terminal = terminal;
    if (size) process.consoleSize = { width: size.width, height: size.height };
  };
}

/** Sets the hostname. */
export function withHostname(hostname: string): SpecOpt {
  return (spec) => {
    spec.hostname = hostname;
  };
}

/** Uses `path` as the root filesystem. */
export function withRootfs(path: string, options: { readonly?: boolean } = {}): SpecOpt {
  return (spec) => {
    spec.root = { path, readonly: options.readonly ?? spec.root?.readonly ?? false };
  };
}

/** Makes the root filesystem read-only. */
export function withReadonlyRootfs(readonly = true): SpecOpt {
  return (spec) => {
    spec.root = { path: spec.root?.path ?? "rootfs", readonly };
  };
}

/** Adds mounts; a mount replaces an existing one at the same destination. */
export function withMounts(mounts: readonly Mount[]): SpecOpt {
  return (spec) => {
    const targets = new Set(mounts.map((m) => m.destination));
    spec.mounts = [...(spec.mounts ?? []).filter((m) => !targets.has(m.destination)), ...mounts];
  };
}

/** Joins the namespace at `path` (e.g. a sandbox's pinned `/run/.../net`), or creates a new one. */
export function withNamespace(type: NamespaceType, path?: string): SpecOpt {
  return (spec) => {
    const linux = (spec.linux ??= {});
    const entry: LinuxNamespace = path === undefined ? { type } : { type, path };
    linux.namespaces = [...(linux.namespaces ?? []).filter((n) => n.type !== type), entry];
  };
}

/** Shares the host's namespace of `type` (removes it from the spec). */
export function withHostNamespace(type: NamespaceType): SpecOpt {
  return (spec) => {
    if (spec.linux?.namespaces) {
      spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== type);
    }
  };
}

/** Adds annotations. */
export function withAnnotations(annotations: Record<string, string>): SpecOpt {
  return (spec) => {
    spec.annotations = { ...spec.annotations, ...annotations };
  };
}

/** Runs the process as `uid:gid`. */
export function withUser(uid: number, gid: number = uid): SpecOpt {
  return (spec) => {
    processOf(spec).user = { uid, gid };
  };
}

/** Limits memory (bytes). */
export function withMemoryLimit(bytes: number): SpecOpt {
  return (spec) => {
    const resources = ((spec.linux ??= {}).resources ??= {});
    resources.memory = { ...resources.memory, limit: bytes };
  };
}

/** Limits CPU time to `quota` µs per `period` µs (e.g. 50000/100000 = half a CPU). */
export function withCpuQuota(quota: number, period = 100_000): SpecOpt {
  return (spec) => {
    const resources = ((spec.linux ??= {}).resources ??= {});
    resources.cpu = { ...resources.cpu, quota, period };
  };
}

/** Limits the number of processes. */
export function withPidsLimit(limit: number): SpecOpt {
  return (spec) => {
    ((spec.linux ??= {}).resources ??= {}).pids = { limit };
  };
}

/** Sets the cgroup path. */
export function withCgroupsPath(path: string): SpecOpt {
  return (spec) => {
    (spec.linux ??= {}).cgroupsPath = path;
  };
}

/** Adds capabilities to the bounding, effective and permitted sets. */
export function withAddedCapabilities(caps: readonly string[]): SpecOpt {
  return (spec) => {
    const c = (processOf(spec).capabilities ??= {});
    const add = (set: string[] | undefined): string[] => [...new Set([...(set ?? []), ...caps])];
    c.bounding = add(c.bounding);
    c.effective = add(c.effective);
    c.permitted = add(c.permitted);
  };
}

/** Packs a spec as containerd does: an Any of type `types.containerd.io/opencontainers/runtime-spec/1/Spec` holding JSON. */
export function packSpec(spec: Spec): Any {
  return packJson(JsonTypeUrl.Spec, spec);
}

/** Reads a spec packed by {@link packSpec} (or by containerd). */
export function unpackSpec(any: Any): Spec {
  const value = unpackJson(any, JsonTypeUrl.Spec);
  if (value === undefined || value === null || typeof value !== "object") {
    throw invalidArgument(`spec: type ${JSON.stringify(any.typeUrl)} is not an OCI spec`);
  }
  return value as Spec;
}

/** Packs an OCI process (for exec), type `types.containerd.io/opencontainers/runtime-spec/1/Process`. */
export function packProcess(process: Process): Any {
  return packJson(JsonTypeUrl.Process, process);
}

/**
 * The process of an exec in a container: the container's own process (user,
 * env, capabilities...) with these arguments, as `ctr task exec` does.
 */
export function execProcess(
  containerSpec: Spec | undefined,
  options: { args: readonly string[]; env?: readonly string[]; cwd?: string; terminal?: boolean },
): Process {
  const base: Process = structuredClone(containerSpec?.process) ?? {
    user: { uid: 0, gid: 0 },
    cwd: "/",
    env: [DEFAULT_PATH_ENV],
  };
  base.args = [...options.args];
  base.terminal = options.terminal ?? false;
  delete base.consoleSize;
  if (options.cwd !== undefined) base.cwd = options.cwd;
  if (options.env) base.env = mergeEnv(base.env ?? [], options.env);
  return base;
}
