// CRI devices, privileged containers, hugepages and oom_score_adj against
// real runc: a Device becomes a node at its container path with a device
// cgroup rule of its permissions; a privileged container gets the host's
// devices, writable sysfs and no masked paths; hugepage limits are dropped
// (not fatal) on a host without the hugetlb controller.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ContainerConfig, PodSandboxConfig } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { containerConfig, openCri, podConfig, runContainer, type CriWorld } from "./harness.js";

describe("CRI devices, privileged, hugepages, oom_score_adj", { timeout: 300_000 }, () => {
  let w: CriWorld;
  before(async () => {
    w = await openCri();
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
  const sleeper = (extra: Parameters<typeof containerConfig>[3] = {}) =>
    containerConfig(w, "c", ["sleep", "3600"], extra);

  test("a device at its container path, with the cgroup permissions asked for", async () => {
    const rw = await inContainer(
      podConfig(w, "dev-rw"),
      sleeper({
        devices: [{ hostPath: "/dev/null", containerPath: "/dev/mynull", permissions: "rwm" }],
      }),
      "stat -c '%t,%T' /dev/mynull; echo data > /dev/mynull; echo write=$?",
    );
    assert.match(rw, /^1,3\n/);
    assert.match(rw, /write=0/);
    // Read-only in the device cgroup (runc always allows /dev/zero and friends, so
    // /dev/loop-control): opening it for reading works, for writing the kernel refuses.
    if (!existsSync("/dev/loop-control")) return;
    const ro = await inContainer(
      podConfig(w, "dev-ro"),
      sleeper({
        devices: [
          { hostPath: "/dev/loop-control", containerPath: "/dev/myloop", permissions: "r" },
        ],
      }),
      "true < /dev/myloop && echo read-ok; true > /dev/myloop; echo write=$?",
    );
    assert.match(ro, /read-ok/);
    assert.match(ro, /Operation not permitted/);
    assert.match(ro, /write=1/);
  });

  test("a device whose host path is a symlink", async () => {
    const link = join(w.dir, "zero-link");
    await symlink("/dev/zero", link);
    const out = await inContainer(
      podConfig(w, "dev-link"),
      sleeper({ devices: [{ hostPath: link, containerPath: "/dev/z", permissions: "rw" }] }),
      "stat -c '%F %t,%T' /dev/z",
    );
    assert.match(out, /character special file 1,5/);
  });

  test("devices that are not devices, missing or with bad permissions are refused by name", async () => {
    const pod = podConfig(w, "dev-bad");
    const { podSandboxId } = await w.rt.runPodSandbox({ config: pod });
    const file = join(w.dir, "plain-file");
    await writeFile(file, "x");
    const create = (hostPath: string, permissions = "rwm") =>
      w.rt.createContainer({
        podSandboxId,
        config: sleeper({ devices: [{ hostPath, containerPath: "/dev/x", permissions }] }),
        sandboxConfig: pod,
      });
    try {
      await assert.rejects(create(file), /plain-file.*not a device node/);
      await assert.rejects(create(join(w.dir, "nope")), /nope.*does not exist/);
      await assert.rejects(create("/dev/null", "rwx"), /permissions "rwx"/);
    } finally {
      await w.rt.removePodSandbox({ podSandboxId });
    }
  });

  test("privileged: host devices, writable sysfs, no masked or read-only paths, all capabilities", async () => {
    const probe =
      "test -c /dev/kmsg && echo kmsg; grep -c ' /proc/keys ' /proc/self/mountinfo; " +
      "grep ' /sys ' /proc/self/mountinfo | grep -q ' rw,' && echo sysfs-rw; grep CapEff /proc/self/status";
    const priv = await inContainer(
      podConfig(w, "priv", { linux: { securityContext: { privileged: true } } }),
      sleeper({ linux: { securityContext: { privileged: true } } }),
      probe,
    );
    if (existsSync("/dev/kmsg")) assert.match(priv, /kmsg/);
    assert.match(priv, /^0$/m, "/proc/keys is not masked");
    assert.match(priv, /sysfs-rw/);
    const host = /CapEff:\s*(\S+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    assert.match(priv, new RegExp(`CapEff:\\s*${host}`));
    const plain = await inContainer(podConfig(w, "unpriv"), sleeper(), probe);
    assert.doesNotMatch(plain, /kmsg/);
    assert.match(plain, /^1$/m, "/proc/keys is masked");
    assert.doesNotMatch(plain, /sysfs-rw/);
  });

  test("hugepage limits: bad page sizes refused; without a hugetlb controller the limits are dropped", async () => {
    const pod = podConfig(w, "huge");
    const { podSandboxId } = await w.rt.runPodSandbox({ config: pod });
    try {
      await assert.rejects(
        w.rt.createContainer({
          podSandboxId,
          config: sleeper({
            linux: { resources: { hugepageLimits: [{ pageSize: "2XB", limit: 1n << 21n }] } },
          }),
          sandboxConfig: pod,
        }),
        /page size "2XB"/,
      );
    } finally {
      await w.rt.removePodSandbox({ podSandboxId });
    }
    const hugetlb = existsSync("/sys/fs/cgroup/hugetlb");
    const out = await inContainer(
      podConfig(w, "huge-ok"),
      sleeper({
        linux: { resources: { hugepageLimits: [{ pageSize: "2MB", limit: 1n << 22n }] } },
      }),
      hugetlb ? "cat /sys/fs/cgroup/hugetlb/hugetlb.2MB.limit_in_bytes" : "echo started",
    );
    assert.equal(out.trim(), hugetlb ? String(1 << 22) : "started");
  });

  test("oom_score_adj; never below the daemon's when it lacks CAP_SYS_RESOURCE", async () => {
    const adj = (v: bigint) =>
      inContainer(
        podConfig(w, "oom"),
        sleeper({ linux: { resources: { oomScoreAdj: v } } }),
        "cat /proc/self/oom_score_adj",
      );
    assert.equal((await adj(456n)).trim(), "456");
    const status = readFileSync("/proc/self/status", "utf8");
    const bnd = BigInt(`0x${/CapBnd:\s*(\S+)/.exec(status)?.[1] ?? "0"}`);
    const sysResource = ((bnd >> 24n) & 1n) === 1n;
    // sandboxd inherits this process's value.
    const own = readFileSync("/proc/self/oom_score_adj", "utf8").trim();
    assert.equal((await adj(-5n)).trim(), sysResource || Number(own) <= -5 ? "-5" : own);
  });
});
