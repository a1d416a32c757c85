/**
 * The OCI runtime spec of a CRI container: process (command + args, env,
 * cwd, user), mounts (with propagation and read-only), namespaces (joined
 * from the pod by the sandboxer: entries without a path get the pod's pinned
 * file), resources and devices, annotations. The security settings are
 * spec-security.ts's; the user, resolved in the rootfs, is the caller's.
 */
import type { ImageEntry } from "../backend.js";
import type { ContainerConfig, PodSandboxConfig } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { MountPropagation, NamespaceMode } from "@sandboxd/api/cri/runtime/v1/api_pb";
import type { Ctx } from "@sandboxd/core";
import { invalidArgument } from "@sandboxd/errdefs";
import { checkRecursiveReadOnly } from "./mount-rules.js";
import { containerDevices } from "./spec-devices.js";
import { resourcesOf } from "./spec-resources.js";
import { applySecurity } from "./spec-security.js";

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

export async function containerSpec(
  ctx: Ctx,
  opts: {
    id: string;
    sandboxId: string;
    config: ContainerConfig;
    pod: PodSandboxConfig;
    image: string;
    /** The pulled image's config (absent for a local-directory image). */
    imageConfig?: ImageEntry["config"] | undefined;
    /** The process user, resolved against the rootfs (rootfs-user.ts). */
    user: { uid: number; gid: number; additionalGids: number[] };
    /** PID namespace mode TARGET: the host pid of the target container. */
    targetPid?: number | undefined;
  },
): Promise<OciSpec> {
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
  const env = mergeEnv(
    ic?.Env?.length ? [...ic.Env] : [defaultPath],
    config.envs.map((e) => `${e.key}=${e.value}`),
  );
  if (pod.hostname && !env.some((e) => e.startsWith("HOSTNAME=")))
    env.push(`HOSTNAME=${pod.hostname}`);
  // The groups of the user's passwd entry merged with supplemental_groups, sorted (containerd's mergeGids).
  const gids = new Set([
    ...opts.user.additionalGids,
    ...(sc?.supplementalGroups ?? []).map(Number),
  ]);
  const user = {
    uid: opts.user.uid,
    gid: opts.user.gid,
    additionalGids: [...gids].sort((a, b) => a - b),
  };
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
      options: ["nosuid", "noexec", "nodev", "ro"],
    },
    {
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
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
  const { resources, oomScoreAdj } = resourcesOf(ctx, config.linux?.resources);
  const devices = await containerDevices(config.devices);
  resources.devices = [{ allow: false, access: "rwm" }, ...devices.rules];
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
  const spec: OciSpec = {
    ociVersion: "1.1.0",
    process: {
      terminal: config.tty,
      user,
      args,
      env,
      cwd: config.workingDir || ic?.WorkingDir || "/",
      ...(oomScoreAdj === undefined ? {} : { oomScoreAdj }),
    },
    root: { path: "rootfs", readonly: false },
    mounts,
    annotations,
    linux: {
      namespaces,
      resources,
      sysctl,
      ...(rootPropagation ? { rootfsPropagation: rootPropagation } : {}),
      devices: devices.devices,
    },
  };
  await applySecurity(spec, config, pod);
  return spec;
}
