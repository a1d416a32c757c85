// critest "Security Context › SupplementalGroupsPolicy" (run because Status
// advertises the feature): an image whose uid 1000 is a member of gid 50000 in
// its /etc/group. Merge (the default) adds that membership to the config's
// supplemental groups; Strict does not. Both the first process (its log),
// an exec'd process and ContainerStatus.user must show the same identity.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ContainerState, SupplementalGroupsPolicy } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { waitUntil } from "@sandboxd/testing";
import { containerConfig, podConfig } from "./harness.js";
import { openRegistryWorld, type RegistryWorld } from "./registry-world.js";

describe("critest SupplementalGroupsPolicy and ContainerStatus.user", { timeout: 240_000 }, () => {
  let r: RegistryWorld;
  let image = "";
  before(async () => {
    r = await openRegistryWorld();
    // As cri-tools' image-predefined-group: adduser -u 1000 default-user, addgroup -g 50000, USER 1000.
    const { name } = await r.push(
      "k8s-staging-cri-tools/test-image-predefined-group",
      "latest",
      [
        {
          name: "etc/passwd",
          data: "root:x:0:0:root:/root:/bin/sh\ndefault-user:x:1000:1000::/home/default-user:/bin/sh\n",
        },
        {
          name: "etc/group",
          data: "root:x:0:\ndefault-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n",
        },
      ],
      { User: "1000" },
    );
    image = name;
    await r.im.pullImage({ image: { image } });
  });
  after(async () => {
    await r?.close();
  });

  test("Status advertises the SupplementalGroupsPolicy feature", async () => {
    assert.equal((await r.w.rt.status({})).features?.supplementalGroupsPolicy, true);
  });

  async function groupsOf(policy: SupplementalGroupsPolicy) {
    const { w } = r;
    const pod = podConfig(w, "sgp");
    const { podSandboxId } = await w.rt.runPodSandbox({ config: pod });
    try {
      const cfg = containerConfig(w, "sgp", ["sh", "-c", "id -G; sleep 3600"], {
        image: { image },
        linux: {
          securityContext: {
            runAsUser: { value: 1000n },
            supplementalGroups: [1234n],
            supplementalGroupsPolicy: policy,
          },
        },
      });
      const { containerId } = await w.rt.createContainer({
        podSandboxId,
        config: cfg,
        sandboxConfig: pod,
      });
      await w.rt.startContainer({ containerId });
      const logPath = join(pod.logDirectory, cfg.logPath);
      let firstLine = "";
      await waitUntil(
        async () => {
          const text = await readFile(logPath, "utf8").catch(() => "");
          firstLine = text.split("\n")[0]?.split(" ").slice(3).join(" ") ?? "";
          return firstLine !== "";
        },
        { timeoutMs: 60_000, what: "the first process logs its groups" },
      );
      const st = (await w.rt.containerStatus({ containerId })).status;
      assert.equal(st?.state, ContainerState.CONTAINER_RUNNING);
      const u = st?.user?.linux;
      const exec = await w.rt.execSync({ containerId, cmd: ["id", "-G"], timeout: 0n });
      return {
        user: u && {
          uid: u.uid,
          gid: u.gid,
          groups: [...u.supplementalGroups].sort((a, b) => Number(a - b)),
        },
        first: firstLine,
        exec: Buffer.from(exec.stdout).toString(),
      };
    } finally {
      await w.rt.removePodSandbox({ podSandboxId });
    }
  }

  test("Merge: the image's /etc/group membership (50000) joins SupplementalGroups", async () => {
    const g = await groupsOf(SupplementalGroupsPolicy.Merge);
    assert.deepEqual(g.user, { uid: 1000n, gid: 1000n, groups: [1000n, 1234n, 50000n] });
    assert.equal(g.first, "1000 1234 50000");
    assert.equal(g.exec, "1000 1234 50000\n");
  });

  test("Strict: only the primary gid and SupplementalGroups, not the image's groups", async () => {
    const g = await groupsOf(SupplementalGroupsPolicy.Strict);
    assert.deepEqual(g.user, { uid: 1000n, gid: 1000n, groups: [1000n, 1234n] });
    assert.equal(g.first, "1000 1234");
    assert.equal(g.exec, "1000 1234\n");
  });
});
