import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  ContainerConfigSchema,
  MountPropagation,
  MountSchema,
  SupplementalGroupsPolicy,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import { isInvalidArgument } from "@sandboxd/errdefs";
import { specIdentity, statusUser, withGroupsPolicy } from "./identity.js";
import { checkRecursiveReadOnly } from "./mount-rules.js";
import { userFilesOfDir } from "./rootfs-user.js";

const configWith = (policy: SupplementalGroupsPolicy) =>
  create(ContainerConfigSchema, {
    linux: { securityContext: { supplementalGroupsPolicy: policy } },
  });

test("SupplementalGroupsPolicy: Merge keeps the user's /etc/group groups, Strict only the primary gid", () => {
  const user = { uid: 1000, gid: 1000, additionalGids: [1000, 50000] };
  assert.deepEqual(withGroupsPolicy(configWith(SupplementalGroupsPolicy.Merge), user), user);
  assert.deepEqual(withGroupsPolicy(configWith(SupplementalGroupsPolicy.Strict), user), {
    uid: 1000,
    gid: 1000,
    additionalGids: [1000],
  });
});

test("ContainerStatus.user is the identity the spec gives the process", () => {
  const id = specIdentity({ process: { user: { uid: 7, gid: 8, additionalGids: [8, 9] } } });
  assert.deepEqual(id, { uid: 7, gid: 8, groups: [8, 9] });
  assert.deepEqual(statusUser(id).linux, { uid: 7n, gid: 8n, supplementalGroups: [8n, 9n] });
  assert.deepEqual(specIdentity({ process: {} }), { uid: 0, gid: 0, groups: [] });
});

test("an image's /etc/passwd symlink never reaches the host's files", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "cri-identity-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, "etc"));
  await symlink("/etc/shadow", join(root, "etc", "passwd"));
  await symlink("../../../../etc/hostname", join(root, "etc", "group"));
  assert.deepEqual(await userFilesOfDir(root), {}, "resolved inside the rootfs, where nothing is");
  await writeFile(join(root, "etc", "real"), "app:x:1000:1000::/:/bin/sh\n");
  await rm(join(root, "etc", "passwd"));
  await symlink("/etc/real", join(root, "etc", "passwd"));
  assert.match((await userFilesOfDir(root)).passwd ?? "", /^app:x:1000/);
});

test("checkRecursiveReadOnly: rro needs readonly and private propagation", () => {
  const m = (over: Partial<{ readonly: boolean; propagation: MountPropagation }>) =>
    create(MountSchema, {
      containerPath: "/mnt",
      hostPath: "/h",
      readonly: true,
      recursiveReadOnly: true,
      ...over,
    });
  checkRecursiveReadOnly(m({}));
  checkRecursiveReadOnly(create(MountSchema, { containerPath: "/mnt", readonly: false }));
  assert.throws(() => checkRecursiveReadOnly(m({ readonly: false })), isInvalidArgument);
  for (const propagation of [
    MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
    MountPropagation.PROPAGATION_BIDIRECTIONAL,
  ])
    assert.throws(() => checkRecursiveReadOnly(m({ propagation })), /private propagation/);
});
