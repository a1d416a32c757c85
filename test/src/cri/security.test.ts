// CRI conformance, part 3: what critest's "Security Context" (namespace
// options, run-as user/group, read-only rootfs, privileged, capabilities,
// masked/read-only paths, no_new_privs), "PodSandbox" sysctls and
// "Container" volume / "Mount Readonly" specs assert.
import assert from "node:assert/strict";
import { mkdir, readlink, symlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { NamespaceMode } from "@sandboxd/api/cri/runtime/v1/api_pb";
import type { ContainerConfig, PodSandboxConfig } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { containerConfig, openCri, podConfig, runContainer, type CriWorld } from "./harness.js";

describe("CRI security context, namespaces, sysctls and mounts", { timeout: 240_000 }, () => {
  let w: CriWorld;
  before(async () => {
    w = await openCri();
  });
  after(async () => {
    await w?.close();
  });

  /** Runs `cmd` via ExecSync in a fresh pod + `sleep` container; removes the pod after. */
  async function inContainer(
    pod: PodSandboxConfig,
    config: ContainerConfig,
    cmd: string,
  ): Promise<{ out: string; code: number }> {
    const { podId, id } = await runContainer(w, pod, config);
    try {
      const r = await w.rt.execSync({ containerId: id, cmd: ["sh", "-c", cmd], timeout: 0n });
      return {
        out: Buffer.from(r.stdout).toString() + Buffer.from(r.stderr).toString(),
        code: r.exitCode,
      };
    } finally {
      await w.rt.removePodSandbox({ podSandboxId: podId });
    }
  }
  const sleeper = (name: string, extra: Parameters<typeof containerConfig>[3] = {}) =>
    containerConfig(w, name, ["sleep", "3600"], extra);
  const podNs = (
    name: string,
    ns: { network?: NamespaceMode; pid?: NamespaceMode; ipc?: NamespaceMode },
  ) => podConfig(w, name, { linux: { securityContext: { namespaceOptions: ns } } });

  describe("NamespaceOption", () => {
    test("runtime should support HostNetwork is true", async () => {
      const r = await inContainer(
        podNs("hostnet", { network: NamespaceMode.NODE }),
        sleeper("c"),
        "hostname",
      );
      assert.equal(r.out.trim(), hostname());
    });

    test("runtime should support HostNetwork is false", async () => {
      const r = await inContainer(
        podNs("podnet", { network: NamespaceMode.POD }),
        sleeper("c"),
        "ls /sys/class/net",
      );
      assert.deepEqual(r.out.split(/\s+/).filter(Boolean).sort(), ["eth0", "lo"]);
    });

    test("runtime should support HostPID (NODE): the host's processes are visible", async () => {
      const r = await inContainer(
        podNs("hostpid", { pid: NamespaceMode.NODE }),
        sleeper("c", {
          linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.NODE } } },
        }),
        `test -d /proc/${process.pid} && echo seen`,
      );
      assert.equal(r.out.trim(), "seen");
    });

    test("runtime should support PodPID: PID 1 is an init, not the container's process", async () => {
      const r = await inContainer(
        podNs("podpid", { pid: NamespaceMode.POD }),
        sleeper("c"),
        "cat /proc/1/cmdline | tr '\\0' ' '",
      );
      assert.doesNotMatch(r.out, /sleep 3600/);
    });

    test("runtime should support ContainerPID: the container's process is PID 1", async () => {
      const r = await inContainer(
        podNs("ctrpid", { pid: NamespaceMode.CONTAINER }),
        sleeper("c", {
          linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } } },
        }),
        "cat /proc/1/cmdline | tr '\\0' ' '",
      );
      assert.match(r.out, /sleep 3600/);
    });

    test("runtime should support HostIpc is false: a private IPC namespace", async () => {
      const r = await inContainer(
        podNs("ipc", { ipc: NamespaceMode.POD }),
        sleeper("c"),
        "readlink /proc/self/ns/ipc",
      );
      assert.notEqual(r.out.trim(), await readlink("/proc/self/ns/ipc"));
    });
  });

  describe("bucket", () => {
    test("runtime should support RunAsUser and RunAsGroup", async () => {
      const r = await inContainer(
        podConfig(w, "user"),
        sleeper("c", {
          linux: { securityContext: { runAsUser: { value: 1001n }, runAsGroup: { value: 1002n } } },
        }),
        "id -u; id -g",
      );
      assert.equal(r.out, "1001\n1002\n");
    });

    test("runtime should refuse RunAsGroup without RunAsUser", async () => {
      const pod = podConfig(w, "group-only");
      const { podSandboxId } = await w.rt.runPodSandbox({ config: pod });
      await assert.rejects(
        w.rt.createContainer({
          podSandboxId,
          config: sleeper("c", { linux: { securityContext: { runAsGroup: { value: 1002n } } } }),
          sandboxConfig: pod,
        }),
      );
      await w.rt.removePodSandbox({ podSandboxId });
    });

    test("runtime should support SupplementalGroups", async () => {
      const r = await inContainer(
        podConfig(w, "groups"),
        sleeper("c", { linux: { securityContext: { supplementalGroups: [1234n, 5678n] } } }),
        "id -G",
      );
      assert.ok(r.out.split(/\s+/).includes("1234") && r.out.split(/\s+/).includes("5678"), r.out);
    });

    test("runtime should support ReadOnlyRootfs true and false", async () => {
      const ro = await inContainer(
        podConfig(w, "ro"),
        sleeper("c", { linux: { securityContext: { readonlyRootfs: true } } }),
        "touch /file 2>&1; echo rc=$?",
      );
      assert.match(ro.out, /rc=1/);
      const rw = await inContainer(podConfig(w, "rw"), sleeper("c"), "touch /file; echo rc=$?");
      assert.match(rw.out, /rc=0/);
    });

    test("runtime should support Privileged true and false", async () => {
      const priv = await inContainer(
        podConfig(w, "priv", { linux: { securityContext: { privileged: true } } }),
        sleeper("c", { linux: { securityContext: { privileged: true } } }),
        "mkdir -p /m && mount -t tmpfs none /m && echo mounted",
      );
      assert.match(priv.out, /mounted/);
      const unpriv = await inContainer(
        podConfig(w, "unpriv"),
        sleeper("c"),
        "mkdir -p /m && mount -t tmpfs none /m && echo mounted",
      );
      assert.doesNotMatch(unpriv.out, /mounted/);
    });

    test("a privileged container in a pod that is not privileged is refused", async () => {
      const pod = podConfig(w, "priv-in-unpriv");
      const { podSandboxId } = await w.rt.runPodSandbox({ config: pod });
      try {
        await assert.rejects(
          w.rt.createContainer({
            podSandboxId,
            config: sleeper("c", { linux: { securityContext: { privileged: true } } }),
            sandboxConfig: pod,
          }),
          /no privileged container allowed in sandbox/,
        );
      } finally {
        await w.rt.removePodSandbox({ podSandboxId });
      }
    });

    test("runtime should support adding and dropping capabilities (and ALL)", async () => {
      const capEff = async (caps: { addCapabilities?: string[]; dropCapabilities?: string[] }) => {
        const r = await inContainer(
          podConfig(w, "caps"),
          sleeper("c", { linux: { securityContext: { capabilities: caps } } }),
          "grep CapEff /proc/self/status",
        );
        return BigInt(`0x${r.out.trim().split(/\s+/)[1]}`);
      };
      const sysAdmin = 1n << 21n;
      const chown = 1n << 0n;
      assert.ok((await capEff({ addCapabilities: ["SYS_ADMIN"] })) & sysAdmin);
      assert.equal((await capEff({ dropCapabilities: ["CHOWN"] })) & chown, 0n);
      assert.equal(await capEff({ dropCapabilities: ["ALL"] }), 0n);
      assert.ok((await capEff({ addCapabilities: ["ALL"] })) & sysAdmin);
    });

    test("runtime should support MaskedPaths and ReadonlyPaths", async () => {
      const masked = await inContainer(
        podConfig(w, "masked"),
        sleeper("c", { linux: { securityContext: { maskedPaths: ["/etc/passwd"] } } }),
        "wc -c < /etc/passwd",
      );
      assert.equal(masked.out.trim(), "0");
      const ro = await inContainer(
        podConfig(w, "rop"),
        sleeper("c", { linux: { securityContext: { readonlyPaths: ["/tmp"] } } }),
        "touch /tmp/x 2>&1; echo rc=$?",
      );
      assert.match(ro.out, /rc=1/);
    });

    test("runtime should support no_new_privs", async () => {
      const r = await inContainer(
        podConfig(w, "nnp"),
        sleeper("c", { linux: { securityContext: { noNewPrivs: true } } }),
        "grep NoNewPrivs /proc/self/status",
      );
      assert.match(r.out, /NoNewPrivs:\s+1/);
    });
  });

  describe("PodSandbox sysctls", () => {
    test("runtime should support safe and unsafe (namespaced) sysctls", async () => {
      const pod = podConfig(w, "sysctl", {
        linux: { sysctls: { "kernel.shm_rmid_forced": "1", "fs.mqueue.msg_max": "100" } },
      });
      const r = await inContainer(
        pod,
        sleeper("c"),
        "cat /proc/sys/kernel/shm_rmid_forced /proc/sys/fs/mqueue/msg_max",
      );
      assert.equal(r.out, "1\n100\n");
    });

    test("a node-wide sysctl is refused by name", async () => {
      const pod = podConfig(w, "bad-sysctl", { linux: { sysctls: { "vm.swappiness": "10" } } });
      await assert.rejects(w.rt.runPodSandbox({ config: pod }), /vm\.swappiness/);
    });
  });

  describe("Container volumes and mounts", () => {
    test("runtime should support starting container with volume, and with a volume whose host path is a symlink", async () => {
      const dir = join(w.dir, "vol");
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, "f"), "from-host\n");
      const link = join(w.dir, "vol-link");
      await symlink(dir, link);
      for (const hostPath of [dir, link]) {
        const r = await inContainer(
          podConfig(w, "vol"),
          sleeper("c", { mounts: [{ containerPath: "/vol", hostPath }] }),
          "cat /vol/f",
        );
        assert.equal(r.out, "from-host\n");
      }
    });

    test("runtime should support read-only and recursive read-only mounts", async () => {
      const dir = join(w.dir, "rovol");
      await mkdir(dir, { recursive: true });
      const ro = await inContainer(
        podConfig(w, "rovol"),
        sleeper("c", { mounts: [{ containerPath: "/vol", hostPath: dir, readonly: true }] }),
        "touch /vol/x 2>&1; echo rc=$?",
      );
      assert.match(ro.out, /rc=1/);
      const rro = await inContainer(
        podConfig(w, "rrovol"),
        sleeper("c", {
          mounts: [
            { containerPath: "/vol", hostPath: dir, readonly: true, recursiveReadOnly: true },
          ],
        }),
        "touch /vol/x 2>&1; echo rc=$?",
      );
      assert.match(rro.out, /rc=1/);
    });
  });
});
