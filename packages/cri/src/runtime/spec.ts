/**
 * The OCI runtime spec of a CRI container: process (command + args, env,
 * cwd, user, capabilities, no_new_privs), mounts (with propagation and
 * read-only), namespaces (joined from the pod by the sandboxer: entries
 * without a path get the pod's pinned file), resources, annotations.
 */
import type { ImageEntry } from "../backend.js";
import type { ContainerConfig, PodSandboxConfig } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { MountPropagation, NamespaceMode } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { invalidArgument } from "@sandboxd/errdefs";
import { readFileSync } from "node:fs";
import { checkRecursiveReadOnly } from "./mount-rules.js";

/** containerd's default capability set (oci.defaultUnixCaps). */
export const defaultCaps = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export type OciSpec = Record<string, unknown> & {
  process: { args: string[]; env: string[]; cwd: string; [k: string]: unknown };
  mounts: OciMount[];
  annotations: Record<string, string>;
  linux: Record<string, unknown> & { namespaces: { type: string; path?: string }[] };
};

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** `base` with `over`'s variables replacing those of the same name (image env, then the config's). */
function mergeEnv(base: string[], over: string[]): string[] {
  const out = new Map<string, string>();
  for (const e of [...base, ...over]) out.set(e.split("=")[0] ?? e, e);
  return [...out.values()];
}

function capName(c: string): string {
  const up = c.toUpperCase();
  return up.startsWith("CAP_") ? up : `CAP_${up}`;
}

export function containerSpec(opts: {
  id: string;
  sandboxId: string;
  config: ContainerConfig;
  pod: PodSandboxConfig;
  image: string;
  /** The pulled image's config (absent for a local-directory image). */
  imageConfig?: ImageEntry["config"] | undefined;
  /** PID namespace mode TARGET: the host pid of the target container. */
  targetPid?: number | undefined;
}): OciSpec {
  const { config, pod } = opts;
  const ic = opts.imageConfig;
  // containerd's CRI: command replaces the entrypoint; args alone replace cmd.
  const args =
    config.command.length > 0
      ? [...config.command, ...config.args]
      : [...(ic?.Entrypoint ?? []), ...(config.args.length > 0 ? config.args : (ic?.Cmd ?? []))];
  if (args.length === 0)
    throw invalidArgument(
      `container ${config.metadata?.name ?? ""}: no command (command and args are empty)`,
    );
  const sc = config.linux?.securityContext;
  const privileged = sc?.privileged ?? false;
  let caps = privileged ? allCaps() : [...defaultCaps];
  const add = (sc?.capabilities?.addCapabilities ?? []).map(capName);
  const drop = (sc?.capabilities?.dropCapabilities ?? []).map(capName);
  if (add.includes("CAP_ALL")) caps = allCaps();
  else caps = [...new Set([...caps, ...add])];
  if (drop.includes("CAP_ALL")) caps = add.filter((c) => c !== "CAP_ALL");
  else caps = caps.filter((c) => !drop.includes(c));
  const known = allCaps();
  caps = caps.filter((c) => known.includes(c));
  const env = mergeEnv(
    ic?.Env?.length ? [...ic.Env] : [defaultPath],
    config.envs.map((e) => `${e.key}=${e.value}`),
  );
  if (pod.hostname && !env.some((e) => e.startsWith("HOSTNAME=")))
    env.push(`HOSTNAME=${pod.hostname}`);
  const user: Record<string, unknown> = { uid: 0, gid: 0 };
  if (sc?.runAsUser) user.uid = Number(sc.runAsUser.value);
  else if (!sc?.runAsUsername && ic?.User) {
    // The image's USER when the config names none (numeric `uid[:gid]`; names need the rootfs).
    const [u, g] = ic.User.split(":");
    if (u && /^\d+$/.test(u)) user.uid = Number(u);
    if (g && /^\d+$/.test(g) && !sc?.runAsGroup) user.gid = Number(g);
  }
  if (sc?.runAsGroup) {
    if (!sc.runAsUser && !sc.runAsUsername)
      throw invalidArgument("run_as_group is set but run_as_user and run_as_username are not");
    user.gid = Number(sc.runAsGroup.value);
  }
  if (sc?.supplementalGroups.length) user.additionalGids = sc.supplementalGroups.map(Number);
  const podNs = pod.linux?.securityContext?.namespaceOptions;
  const ns = sc?.namespaceOptions ?? podNs;
  const namespaces: { type: string; path?: string }[] = [{ type: "mount" }];
  if (podNs?.network !== NamespaceMode.NODE) namespaces.push({ type: "network" }, { type: "uts" });
  if (podNs?.ipc !== NamespaceMode.NODE) namespaces.push({ type: "ipc" });
  if (opts.targetPid) namespaces.push({ type: "pid", path: `/proc/${opts.targetPid}/ns/pid` });
  else if (ns?.pid !== NamespaceMode.NODE) namespaces.push({ type: "pid" });
  const mounts: OciMount[] = [
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
      destination: "/dev/mqueue",
      type: "mqueue",
      source: "mqueue",
      options: ["nosuid", "noexec", "nodev"],
    },
    {
      destination: "/sys",
      type: "sysfs",
      source: "sysfs",
      options: ["nosuid", "noexec", "nodev", privileged ? "rw" : "ro"],
    },
    {
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["nosuid", "noexec", "nodev", "relatime", privileged ? "rw" : "ro"],
    },
  ];
  if (podNs?.ipc !== NamespaceMode.NODE)
    mounts.push({
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    });
  else
    mounts.push({
      destination: "/dev/shm",
      type: "bind",
      source: "/dev/shm",
      options: ["rbind", "rw"],
    });
  let rootPropagation: string | undefined;
  for (const m of config.mounts) {
    if (!m.containerPath || !m.hostPath)
      throw invalidArgument("a mount needs container_path and host_path");
    checkRecursiveReadOnly(m);
    const options = ["rbind", m.readonly ? "ro" : "rw"];
    if (m.propagation === MountPropagation.PROPAGATION_BIDIRECTIONAL) {
      options.push("rshared");
      rootPropagation = "rshared";
    } else if (m.propagation === MountPropagation.PROPAGATION_HOST_TO_CONTAINER) {
      options.push("rslave");
      rootPropagation ??= "rslave";
    } else options.push("rprivate");
    if (m.readonly && m.recursiveReadOnly) options.push("rro");
    mounts.push({ destination: m.containerPath, type: "bind", source: m.hostPath, options });
  }
  const res = config.linux?.resources;
  const resources: Record<string, unknown> = {
    devices: [{ allow: !privileged ? false : true, access: "rwm" }],
  };
  if (res) {
    const cpu: Record<string, unknown> = {};
    if (res.cpuShares) cpu.shares = Number(res.cpuShares);
    if (res.cpuQuota) cpu.quota = Number(res.cpuQuota);
    if (res.cpuPeriod) cpu.period = Number(res.cpuPeriod);
    if (res.cpusetCpus) cpu.cpus = res.cpusetCpus;
    if (res.cpusetMems) cpu.mems = res.cpusetMems;
    if (Object.keys(cpu).length) resources.cpu = cpu;
    if (res.memoryLimitInBytes) {
      resources.memory = {
        limit: Number(res.memoryLimitInBytes),
        ...(res.memorySwapLimitInBytes ? { swap: Number(res.memorySwapLimitInBytes) } : {}),
      };
    }
  }
  const sysctl: Record<string, string> = {};
  const annotations: Record<string, string> = {
    ...config.annotations,
    "io.kubernetes.cri.container-type": "container",
    "io.kubernetes.cri.container-name": config.metadata?.name ?? "",
    "io.kubernetes.cri.sandbox-id": opts.sandboxId,
    "io.kubernetes.cri.sandbox-name": pod.metadata?.name ?? "",
    "io.kubernetes.cri.sandbox-namespace": pod.metadata?.namespace ?? "",
    "io.kubernetes.cri.sandbox-uid": pod.metadata?.uid ?? "",
    "io.kubernetes.cri.image-name": opts.image,
  };
  return {
    ociVersion: "1.1.0",
    process: {
      terminal: config.tty,
      user,
      args,
      env,
      cwd: config.workingDir || ic?.WorkingDir || "/",
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: sc?.noNewPrivs ?? false,
    },
    root: { path: "rootfs", readonly: sc?.readonlyRootfs ?? false },
    mounts,
    annotations,
    linux: {
      namespaces,
      resources,
      sysctl,
      ...(rootPropagation ? { rootfsPropagation: rootPropagation } : {}),
      ...(privileged
        ? {}
        : {
            maskedPaths: sc?.maskedPaths.length ? sc.maskedPaths : defaultMasked,
            readonlyPaths: sc?.readonlyPaths.length ? sc.readonlyPaths : defaultReadonly,
          }),
    },
  };
}

const defaultMasked = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/sys/firmware",
  "/proc/scsi",
];
const defaultReadonly = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/** Capability names by bit number (linux/capability.h). */
const capNames = [
  "CHOWN",
  "DAC_OVERRIDE",
  "DAC_READ_SEARCH",
  "FOWNER",
  "FSETID",
  "KILL",
  "SETGID",
  "SETUID",
  "SETPCAP",
  "LINUX_IMMUTABLE",
  "NET_BIND_SERVICE",
  "NET_BROADCAST",
  "NET_ADMIN",
  "NET_RAW",
  "IPC_LOCK",
  "IPC_OWNER",
  "SYS_MODULE",
  "SYS_RAWIO",
  "SYS_CHROOT",
  "SYS_PTRACE",
  "SYS_PACCT",
  "SYS_ADMIN",
  "SYS_BOOT",
  "SYS_NICE",
  "SYS_RESOURCE",
  "SYS_TIME",
  "SYS_TTY_CONFIG",
  "MKNOD",
  "LEASE",
  "AUDIT_WRITE",
  "AUDIT_CONTROL",
  "SETFCAP",
  "MAC_OVERRIDE",
  "MAC_ADMIN",
  "SYSLOG",
  "WAKE_ALARM",
  "BLOCK_SUSPEND",
  "AUDIT_READ",
  "PERFMON",
  "BPF",
  "CHECKPOINT_RESTORE",
].map((c) => `CAP_${c}`);

let hostCaps: string[] | undefined;

/**
 * Every capability the host's bounding set has (containerd's cap.Current):
 * asking runc for one the host lacks (here CAP_SYS_RESOURCE) fails the start.
 */
function allCaps(): string[] {
  if (!hostCaps) {
    const line = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
    const bits = BigInt(`0x${line?.[1] ?? "0"}`);
    hostCaps = capNames.filter((_, i) => (bits >> BigInt(i)) & 1n);
  }
  return [...hostCaps];
}
