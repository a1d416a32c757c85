/**
 * The container process's identity from the image's /etc/passwd and
 * /etc/group, as containerd's CRI computes it (WithUserID, WithAdditionalGIDs,
 * SupplementalGroupsPolicy). runc itself adds no /etc/group memberships: it is
 * always given an explicit `uid:gid`, so the merge has to happen here. The
 * result is also what ContainerStatus.user reports.
 */
import { readFile, realpath } from "node:fs/promises";
import { join } from "node:path";
import {
  SupplementalGroupsPolicy,
  type ContainerConfig,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import type { Mount } from "../backend.js";

export interface ProcessUser {
  uid: number;
  gid: number;
  groups: number[];
}

/**
 * The directories a rootfs is layered from, topmost first: an overlay's
 * upperdir then lowerdirs, or a bind mount's source. Reading a file from them
 * in order finds the copy the container will see (a fresh snapshot has no
 * whiteouts over /etc).
 */
export function rootfsLayers(mounts: readonly Mount[]): string[] {
  const out: string[] = [];
  for (const m of mounts) {
    if (m.type === "bind" || m.options.includes("bind") || m.options.includes("rbind")) {
      out.push(m.source);
      continue;
    }
    const opt = (k: string) => m.options.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
    const upper = opt("upperdir");
    if (upper) out.push(upper);
    out.push(...(opt("lowerdir")?.split(":") ?? []));
  }
  return out;
}

/**
 * The first layer's copy of `path`. A copy that resolves outside its layer
 * (an image's `/etc/passwd -> /etc/shadow` or `etc -> /`) is never followed:
 * the host's own files must not decide a container's identity.
 */
async function readFromLayers(layers: readonly string[], path: string): Promise<string> {
  for (const dir of layers) {
    const real = await realpath(join(dir, path)).catch(() => undefined);
    if (real === undefined) continue;
    const root = await realpath(dir).catch(() => dir);
    if (!real.startsWith(`${root}/`)) return "";
    return readFile(real, "utf8").catch(() => "");
  }
  return "";
}

/** `name:x:field2:field3:...` lines split on ':' (comments and short lines skipped). */
function entries(text: string, min: number): string[][] {
  return text
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split(":"))
    .filter((f) => f.length >= min);
}

/**
 * Completes `user` (the spec's process.user, uid already decided) from the
 * rootfs: the primary gid from /etc/passwd unless `explicitGid`, then the
 * supplementary groups = primary gid, the user's /etc/group memberships
 * (policy Merge only), then the config's supplemental_groups.
 */
export async function resolveIdentity(
  layers: readonly string[],
  user: { uid: number; gid: number },
  explicitGid: boolean,
  config: ContainerConfig,
): Promise<ProcessUser> {
  const sc = config.linux?.securityContext;
  const passwd = entries(await readFromLayers(layers, "etc/passwd"), 4);
  const entry = passwd.find((f) => Number(f[2]) === user.uid && f[2] !== "");
  const gid = !explicitGid && entry ? Number(entry[3]) : user.gid;
  const groups = [gid];
  if (entry && sc?.supplementalGroupsPolicy !== SupplementalGroupsPolicy.Strict) {
    const name = entry[0];
    for (const g of entries(await readFromLayers(layers, "etc/group"), 4)) {
      const members = (g[3] ?? "").split(",").map((m) => m.trim());
      if (name && members.includes(name)) groups.push(Number(g[2]));
    }
  }
  for (const g of sc?.supplementalGroups ?? []) groups.push(Number(g));
  return { uid: user.uid, gid, groups: [...new Set(groups.filter((g) => Number.isInteger(g)))] };
}

/**
 * Sets the spec's process gid and additionalGids from the rootfs and returns
 * the identity. The gid is explicit (kept as the spec has it) when the config
 * names run_as_group, or when the image's USER names a group and the config
 * names no user.
 */
export async function applyIdentity(
  spec: { process: Record<string, unknown> },
  layers: readonly string[],
  config: ContainerConfig,
  imageUser: string | undefined,
): Promise<ProcessUser> {
  const sc = config.linux?.securityContext;
  const u = (spec.process.user ?? {}) as { uid?: number; gid?: number; additionalGids?: number[] };
  const configUser = sc?.runAsUser !== undefined || !!sc?.runAsUsername;
  const explicitGid =
    sc?.runAsGroup !== undefined || (!configUser && (imageUser ?? "").includes(":"));
  const id = await resolveIdentity(
    layers,
    { uid: u.uid ?? 0, gid: u.gid ?? 0 },
    explicitGid,
    config,
  );
  spec.process.user = { ...u, uid: id.uid, gid: id.gid, additionalGids: id.groups };
  return id;
}

/** ContainerStatus.user of a recorded identity. */
export function containerUser(u: ProcessUser) {
  return {
    linux: {
      uid: BigInt(u.uid),
      gid: BigInt(u.gid),
      supplementalGroups: u.groups.map(BigInt),
    },
  };
}
