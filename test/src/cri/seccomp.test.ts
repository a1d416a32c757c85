// CRI seccomp, against real runc: what critest's "SeccompProfilePath" specs
// assert (unconfined, localhost file, RuntimeDefault, nil = unconfined,
// sethostname with CAP_SYS_ADMIN under unconfined / a blocking profile / a
// privileged container), the deprecated seccomp_profile_path forms, and
// clear errors for a missing or non-JSON profile.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { SecurityProfile_ProfileType as Type } from "@sandboxd/api/cri/runtime/v1/api_pb";
import type {
  ContainerConfig,
  LinuxContainerSecurityContextSchema,
  PodSandboxConfig,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";

type Sc = MessageInitShape<typeof LinuxContainerSecurityContextSchema>;
import { containerConfig, openCri, podConfig, runContainer, type CriWorld } from "./harness.js";

const blockHostname = {
  defaultAction: "SCMP_ACT_ALLOW",
  syscalls: [{ names: ["sethostname"], action: "SCMP_ACT_ERRNO" }],
};
const blockChmod = {
  defaultAction: "SCMP_ACT_ALLOW",
  syscalls: [{ names: ["chmod", "fchmodat", "fchmodat2"], action: "SCMP_ACT_ERRNO" }],
};

describe("CRI seccomp", { timeout: 300_000 }, () => {
  let w: CriWorld;
  let hostnamePath: string;
  let chmodPath: string;
  before(async () => {
    w = await openCri();
    hostnamePath = join(w.dir, "block-hostname.json");
    chmodPath = join(w.dir, "block-chmod.json");
    await writeFile(hostnamePath, JSON.stringify(blockHostname));
    await writeFile(chmodPath, JSON.stringify(blockChmod));
  });
  after(async () => {
    await w?.close();
  });

  async function inContainer(
    pod: PodSandboxConfig,
    config: ContainerConfig,
    cmd: string,
  ): Promise<string> {
    const { podId, id } = await runContainer(w, pod, config);
    try {
      const r = await w.rt.execSync({ containerId: id, cmd: ["sh", "-c", cmd], timeout: 0n });
      return Buffer.from(r.stdout).toString() + Buffer.from(r.stderr).toString();
    } finally {
      await w.rt.removePodSandbox({ podSandboxId: podId });
    }
  }
  const withSc = (sc: Sc) =>
    containerConfig(w, "c", ["sleep", "3600"], { linux: { securityContext: sc } });
  const seccompMode = async (sc: Sc) =>
    (
      await inContainer(podConfig(w, "seccomp"), withSc(sc), "grep '^Seccomp:' /proc/self/status")
    ).split(/\s+/)[1];

  test("RuntimeDefault filters (mode 2); Unconfined and no profile do not (mode 0)", async () => {
    assert.equal(await seccompMode({ seccomp: { profileType: Type.RuntimeDefault } }), "2");
    assert.equal(await seccompMode({ seccomp: { profileType: Type.Unconfined } }), "0");
    assert.equal(await seccompMode({}), "0");
  });

  test("RuntimeDefault: namespaces and mounts are refused without CAP_SYS_ADMIN, allowed with it", async () => {
    const probe =
      "unshare -u true 2>&1; echo unshare=$?; hostname h1 2>&1; echo hostname=$?; chmod 600 /tmp; echo chmod=$?";
    const plain = await inContainer(
      podConfig(w, "rd"),
      withSc({ seccomp: { profileType: Type.RuntimeDefault } }),
      probe,
    );
    assert.match(plain, /unshare=1/);
    assert.match(plain, /hostname=1/);
    assert.match(plain, /chmod=0/);
    const admin = await inContainer(
      podConfig(w, "rd-admin"),
      withSc({
        seccomp: { profileType: Type.RuntimeDefault },
        capabilities: { addCapabilities: ["SYS_ADMIN"] },
      }),
      probe,
    );
    assert.match(admin, /unshare=0/);
    assert.match(admin, /hostname=0/);
  });

  test("Localhost: the profile file on the node is applied", async () => {
    const out = await inContainer(
      podConfig(w, "lh"),
      withSc({ seccomp: { profileType: Type.Localhost, localhostRef: chmodPath } }),
      "chmod 400 / 2>&1; echo rc=$?",
    );
    assert.match(out, /Operation not permitted/);
    assert.match(out, /rc=1/);
  });

  test("sethostname with CAP_SYS_ADMIN: allowed unconfined, blocked by a profile, profile ignored when privileged", async () => {
    const sethostname = "hostname cri-test 2>&1; echo rc=$?";
    const admin = { addCapabilities: ["SYS_ADMIN"] };
    const unconfined = await inContainer(
      podConfig(w, "hn-unconfined"),
      withSc({ seccomp: { profileType: Type.Unconfined }, capabilities: admin }),
      sethostname,
    );
    assert.match(unconfined, /rc=0/);
    const blocked = await inContainer(
      podConfig(w, "hn-blocked"),
      withSc({
        seccomp: { profileType: Type.Localhost, localhostRef: hostnamePath },
        capabilities: admin,
      }),
      sethostname,
    );
    assert.match(blocked, /rc=1/);
    const privileged = await inContainer(
      podConfig(w, "hn-priv", { linux: { securityContext: { privileged: true } } }),
      withSc({
        privileged: true,
        seccomp: { profileType: Type.Localhost, localhostRef: hostnamePath },
      }),
      `${sethostname}; grep '^Seccomp:' /proc/self/status`,
    );
    assert.match(privileged, /rc=0/);
    assert.match(privileged, /Seccomp:\s+0/);
  });

  test("the deprecated seccomp_profile_path forms", async () => {
    assert.equal(await seccompMode({ seccompProfilePath: "runtime/default" }), "2");
    assert.equal(await seccompMode({ seccompProfilePath: "docker/default" }), "2");
    assert.equal(await seccompMode({ seccompProfilePath: "unconfined" }), "0");
    const out = await inContainer(
      podConfig(w, "lh-path"),
      withSc({ seccompProfilePath: `localhost/${chmodPath}` }),
      "chmod 400 / 2>&1; echo rc=$?",
    );
    assert.match(out, /rc=1/);
  });

  test("bad profiles are refused at CreateContainer, naming what is wrong", async () => {
    const pod = podConfig(w, "bad");
    const { podSandboxId } = await w.rt.runPodSandbox({ config: pod });
    const notJson = join(w.dir, "not-json.json");
    await writeFile(notJson, "{ this is not json");
    const create = (sc: Sc) =>
      w.rt.createContainer({ podSandboxId, config: withSc(sc), sandboxConfig: pod });
    try {
      await assert.rejects(
        create({
          seccomp: { profileType: Type.Localhost, localhostRef: join(w.dir, "missing.json") },
        }),
        /missing\.json.*does not exist/,
      );
      await assert.rejects(
        create({ seccomp: { profileType: Type.Localhost, localhostRef: notJson } }),
        /not-json\.json.*is not JSON/,
      );
      await assert.rejects(
        create({ seccomp: { profileType: Type.RuntimeDefault, localhostRef: chmodPath } }),
        /localhost_ref/,
      );
      await assert.rejects(
        create({ seccompProfilePath: "bogus/profile" }),
        /invalid seccomp profile/,
      );
      // Nothing was left behind by the refused creates.
      assert.deepEqual((await w.rt.listContainers({ filter: { podSandboxId } })).containers, []);
    } finally {
      await w.rt.removePodSandbox({ podSandboxId });
    }
  });
});
