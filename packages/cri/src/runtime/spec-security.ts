/**
 * The security part of a CRI container's OCI spec, in containerd's order:
 * capabilities (add/drop with ALL), privileged (all the daemon's capabilities,
 * host devices, writable sysfs and cgroupfs, no masked or read-only paths, no
 * seccomp — and only in a privileged pod), masked/read-only paths, seccomp
 * (RuntimeDefault computed for the final capability set, Unconfined,
 * Localhost file, or the deprecated `seccomp_profile_path` forms),
 * no_new_privs, read-only rootfs.
 */
import {
  SecurityProfile_ProfileType,
  type ContainerConfig,
  type PodSandboxConfig,
  type SecurityProfile,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import {
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  applyCapabilities,
  currentCapabilities,
  loadSeccompProfile,
  runtimeDefaultSeccomp,
  type LinuxSeccomp,
} from "@sandboxd/core/oci";
import { invalidArgument } from "@sandboxd/errdefs";
import { hostDevices } from "./spec-devices.js";
import type { OciSpec } from "./spec.js";

type Profile = Pick<SecurityProfile, "profileType" | "localhostRef">;

/**
 * A deprecated `seccomp_profile_path` as a profile (containerd's
 * generateSecurityProfile); undefined for "" (no profile: unconfined).
 */
export function profileOfPath(path: string): Profile | undefined {
  switch (path) {
    case "":
      return undefined;
    case "runtime/default":
    case "docker/default":
      return { profileType: SecurityProfile_ProfileType.RuntimeDefault, localhostRef: "" };
    case "unconfined":
      return { profileType: SecurityProfile_ProfileType.Unconfined, localhostRef: "" };
    default:
      if (!path.startsWith("localhost/"))
        throw invalidArgument(
          `invalid seccomp profile ${JSON.stringify(path)}: want runtime/default, docker/default, unconfined or localhost/<path>`,
        );
      return {
        profileType: SecurityProfile_ProfileType.Localhost,
        localhostRef: path.slice("localhost/".length),
      };
  }
}

/** The seccomp of a container with these final capabilities; undefined = unconfined. */
export async function seccompOf(
  profile: Profile | undefined,
  capabilities: readonly string[],
): Promise<LinuxSeccomp | undefined> {
  if (!profile) return undefined;
  if (profile.profileType !== SecurityProfile_ProfileType.Localhost && profile.localhostRef)
    throw invalidArgument("seccomp: localhost_ref may only be set when profile_type is Localhost");
  switch (profile.profileType) {
    case SecurityProfile_ProfileType.Unconfined:
      return undefined;
    case SecurityProfile_ProfileType.RuntimeDefault:
      return runtimeDefaultSeccomp(capabilities);
    case SecurityProfile_ProfileType.Localhost: {
      const path = profile.localhostRef.replace(/^localhost\//, "");
      if (!path.startsWith("/"))
        throw invalidArgument(
          `seccomp: localhost_ref must be an absolute path on the node, got ${JSON.stringify(profile.localhostRef)}`,
        );
      return loadSeccompProfile(path);
    }
    default:
      throw invalidArgument(`seccomp: unknown profile_type ${String(profile.profileType)}`);
  }
}

/** Sets process capabilities, seccomp, paths and the privileged extras on `spec`. */
export async function applySecurity(
  spec: OciSpec,
  config: ContainerConfig,
  pod: PodSandboxConfig,
): Promise<void> {
  const sc = config.linux?.securityContext;
  const privileged = sc?.privileged ?? false;
  if (privileged && !pod.linux?.securityContext?.privileged)
    throw invalidArgument(
      `container ${config.metadata?.name ?? ""}: no privileged container allowed in sandbox (the pod is not privileged)`,
    );
  let caps = applyCapabilities(DEFAULT_CAPABILITIES, {
    add: sc?.capabilities?.addCapabilities ?? [],
    drop: sc?.capabilities?.dropCapabilities ?? [],
  });
  const all = currentCapabilities();
  if (privileged) caps = all;
  // runc refuses a capability its own bounding set lacks.
  caps = caps.filter((c) => all.includes(c));
  spec.process.capabilities = { bounding: caps, effective: caps, permitted: caps };
  spec.process.noNewPrivileges = sc?.noNewPrivs ?? false;
  spec.root = { path: "rootfs", readonly: sc?.readonlyRootfs ?? false };
  const linux = spec.linux;
  if (privileged) {
    delete linux.maskedPaths;
    delete linux.readonlyPaths;
    for (const m of spec.mounts)
      if (m.type === "sysfs" || m.type === "cgroup")
        m.options = (m.options ?? []).map((o) => (o === "ro" ? "rw" : o));
    linux.devices = [...((linux.devices as unknown[] | undefined) ?? []), ...(await hostDevices())];
    const resources = (linux.resources ??= {}) as Record<string, unknown>;
    resources.devices = [{ allow: true, access: "rwm" }];
    return;
  }
  linux.maskedPaths = sc?.maskedPaths.length ? [...sc.maskedPaths] : [...DEFAULT_MASKED_PATHS];
  linux.readonlyPaths = sc?.readonlyPaths.length
    ? [...sc.readonlyPaths]
    : [...DEFAULT_READONLY_PATHS];
  const seccomp = await seccompOf(sc?.seccomp ?? profileOfPath(sc?.seccompProfilePath ?? ""), caps);
  if (seccomp) linux.seccomp = seccomp;
}
