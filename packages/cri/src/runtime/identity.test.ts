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
import { resolveIdentity, rootfsLayers } from "./identity.js";
import { checkRecursiveReadOnly } from "./mount-rules.js";

test("rootfsLayers: an overlay's upperdir, then its lowerdirs in order; a bind's source", () => {
  assert.deepEqual(
    rootfsLayers([
      {
        type: "overlay",
        source: "overlay",
        options: ["index=off", "workdir=/w", "upperdir=/u", "lowerdir=/l1:/l2"],
      },
    ]),
    ["/u", "/l1", "/l2"],
  );
  assert.deepEqual(rootfsLayers([{ type: "bind", source: "/snap", options: ["rbind", "ro"] }]), [
    "/snap",
  ]);
});

async function layers(t: { after(fn: () => unknown): void }) {
  const dir = await mkdtemp(join(tmpdir(), "cri-identity-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const upper = join(dir, "upper");
  const lower = join(dir, "lower");
  await mkdir(join(upper, "etc"), { recursive: true });
  await mkdir(join(lower, "etc"), { recursive: true });
  // The lower layer's passwd; the upper layer's group shadows the lower's.
  await writeFile(join(lower, "etc/passwd"), "root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n");
  await writeFile(join(lower, "etc/group"), "stale:x:7:app\n");
  await writeFile(join(upper, "etc/group"), "app:x:1000:\nextra:x:50000:root,app\n");
  return { dir, list: [upper, lower] };
}

const config = (policy: SupplementalGroupsPolicy, groups: bigint[] = []) =>
  create(ContainerConfigSchema, {
    linux: { securityContext: { supplementalGroups: groups, supplementalGroupsPolicy: policy } },
  });

test("resolveIdentity: primary gid from passwd; Merge adds the user's groups, Strict does not", async (t) => {
  const { list } = await layers(t);
  assert.deepEqual(
    await resolveIdentity(
      list,
      { uid: 1000, gid: 0 },
      false,
      config(SupplementalGroupsPolicy.Merge, [1234n]),
    ),
    { uid: 1000, gid: 1000, groups: [1000, 50000, 1234] },
  );
  assert.deepEqual(
    await resolveIdentity(
      list,
      { uid: 1000, gid: 0 },
      false,
      config(SupplementalGroupsPolicy.Strict, [1234n]),
    ),
    { uid: 1000, gid: 1000, groups: [1000, 1234] },
  );
  // An explicit gid (run_as_group) stays; a uid absent from passwd keeps what it had.
  assert.deepEqual(
    await resolveIdentity(
      list,
      { uid: 1000, gid: 5 },
      true,
      config(SupplementalGroupsPolicy.Strict),
    ),
    { uid: 1000, gid: 5, groups: [5] },
  );
  assert.deepEqual(
    await resolveIdentity(
      list,
      { uid: 4242, gid: 0 },
      false,
      config(SupplementalGroupsPolicy.Merge),
    ),
    { uid: 4242, gid: 0, groups: [0] },
  );
});

test("resolveIdentity never follows an image's symlink out of its layer", async (t) => {
  const { dir } = await layers(t);
  const evil = join(dir, "evil");
  await mkdir(evil);
  const outside = join(dir, "outside-passwd");
  await writeFile(outside, "host:x:1000:999::/:/bin/sh\n");
  await writeFile(join(dir, "passwd"), "host:x:1000:999::/:/bin/sh\n");
  await symlink(dir, join(evil, "etc"));
  await mkdir(join(dir, "evil2", "etc"), { recursive: true });
  await symlink(outside, join(dir, "evil2", "etc", "passwd"));
  for (const layer of [evil, join(dir, "evil2")]) {
    const id = await resolveIdentity(
      [layer],
      { uid: 1000, gid: 0 },
      false,
      config(SupplementalGroupsPolicy.Merge),
    );
    assert.equal(id.gid, 0, layer);
  }
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
