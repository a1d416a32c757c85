import assert from "node:assert/strict";
import { test } from "node:test";
import { SecurityProfile_ProfileType as Type } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { isInvalidArgument } from "@sandboxd/errdefs";
import { readonlyMounts, userString } from "./rootfs-user.js";
import { create } from "@bufbuild/protobuf";
import { ContainerConfigSchema } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { profileOfPath, seccompOf } from "./spec-security.js";

test("seccomp_profile_path: containerd's deprecated forms", () => {
  assert.equal(profileOfPath(""), undefined);
  assert.equal(profileOfPath("runtime/default")?.profileType, Type.RuntimeDefault);
  assert.equal(profileOfPath("docker/default")?.profileType, Type.RuntimeDefault);
  assert.equal(profileOfPath("unconfined")?.profileType, Type.Unconfined);
  assert.deepEqual(profileOfPath("localhost//etc/p.json"), {
    profileType: Type.Localhost,
    localhostRef: "/etc/p.json",
  });
  assert.throws(() => profileOfPath("/etc/p.json"), isInvalidArgument);
});

test("seccompOf: RuntimeDefault for the capabilities, Unconfined none, bad refs refused", async () => {
  const rd = await seccompOf({ profileType: Type.RuntimeDefault, localhostRef: "" }, [
    "CAP_SYS_ADMIN",
  ]);
  assert.ok(rd?.syscalls?.some((s) => s.names.includes("mount")));
  assert.equal(await seccompOf({ profileType: Type.Unconfined, localhostRef: "" }, []), undefined);
  assert.equal(await seccompOf(undefined, []), undefined);
  await assert.rejects(
    seccompOf({ profileType: Type.Unconfined, localhostRef: "/x.json" }, []),
    /localhost_ref/,
  );
  await assert.rejects(
    seccompOf({ profileType: Type.Localhost, localhostRef: "relative.json" }, []),
    /absolute path/,
  );
});

test("readonlyMounts: an overlay's upper dir becomes a lower dir; binds get ro", () => {
  assert.deepEqual(
    readonlyMounts([
      {
        type: "overlay",
        source: "overlay",
        options: ["index=off", "workdir=/s/2/work", "upperdir=/s/2/fs", "lowerdir=/s/1/fs"],
      },
      { type: "bind", source: "/s/3/fs", options: ["rbind", "rw"] },
    ]),
    [
      { type: "overlay", source: "overlay", options: ["index=off", "lowerdir=/s/2/fs:/s/1/fs"] },
      { type: "bind", source: "/s/3/fs", options: ["rbind", "ro"] },
    ],
  );
});

test("userString: containerd's CRI user string", () => {
  const cfg = (sc: Record<string, unknown>) =>
    create(ContainerConfigSchema, { linux: { securityContext: sc } });
  assert.equal(userString(cfg({}), "www-data:1004"), "www-data:1004");
  assert.equal(userString(cfg({ runAsUser: { value: 5n } }), "www-data"), "5");
  assert.equal(
    userString(cfg({ runAsUsername: "nobody", runAsUser: { value: 5n } }), ""),
    "nobody",
  );
  assert.equal(userString(cfg({ runAsUser: { value: 5n }, runAsGroup: { value: 6n } }), ""), "5:6");
  assert.equal(userString(cfg({ runAsUser: { value: 0n } }), "www-data"), "0");
  assert.throws(() => userString(cfg({ runAsGroup: { value: 6n } }), "x"), /run_as_group/);
});
