/**
 * The container process's identity once its user is resolved in the rootfs
 * (rootfs-user.ts): SupplementalGroupsPolicy applied, and the identity as
 * ContainerStatus.user reports it. runc adds no /etc/group memberships itself
 * (it is given an explicit `uid:gid`), so the policy is applied here.
 */
import {
  SupplementalGroupsPolicy,
  type ContainerConfig,
} from "@sandboxd/api/cri/runtime/v1/api_pb";

export interface ProcessUser {
  uid: number;
  gid: number;
  groups: number[];
}

/**
 * The resolved user under the config's policy: Merge (the default) keeps the
 * user's /etc/group memberships; Strict keeps only the primary gid (the
 * config's supplemental_groups are added later, under either policy).
 */
export function withGroupsPolicy<U extends { gid: number; additionalGids: number[] }>(
  config: ContainerConfig,
  user: U,
): U {
  const policy = config.linux?.securityContext?.supplementalGroupsPolicy;
  return policy === SupplementalGroupsPolicy.Strict
    ? { ...user, additionalGids: [user.gid] }
    : user;
}

/** The identity a built spec gives its process (recorded for ContainerStatus.user). */
export function specIdentity(spec: { process: Record<string, unknown> }): ProcessUser {
  const u = spec.process.user;
  const field = (k: string): unknown =>
    u && typeof u === "object" ? Reflect.get(u, k) : undefined;
  const uid = field("uid");
  const gid = field("gid");
  const groups = field("additionalGids");
  return {
    uid: typeof uid === "number" ? uid : 0,
    gid: typeof gid === "number" ? gid : 0,
    groups: Array.isArray(groups) ? groups.filter((g): g is number => typeof g === "number") : [],
  };
}

/** ContainerStatus.user of a recorded identity. */
export function statusUser(u: ProcessUser) {
  return {
    linux: {
      uid: BigInt(u.uid),
      gid: BigInt(u.gid),
      supplementalGroups: u.groups.map(BigInt),
    },
  };
}
