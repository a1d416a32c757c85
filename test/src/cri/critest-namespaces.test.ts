// critest "Security Context › NamespaceOption", checked the way critest
// checks it: a SysV shared-memory segment made on the host (ipcmk) is seen
// only with HostIpc; a host-PID container sees another host-PID container's
// process by name; with HostNetwork the container lists the host's listening
// port (netstat). Plus PID namespace TARGET (kubelet's ephemeral containers):
// the new container joins the target container's PID namespace.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { NamespaceMode, type ContainerConfig } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { containerConfig, openCri, podConfig, type CriWorld } from "./harness.js";

describe(
  "critest NamespaceOption (host IPC, host PID, host network, TARGET)",
  { timeout: 240_000 },
  () => {
    let w: CriWorld;
    let n = 0;
    before(async () => {
      w = await openCri();
    });
    after(async () => {
      await w?.close();
    });

    type Ns = { network?: NamespaceMode; pid?: NamespaceMode; ipc?: NamespaceMode };
    const pod = (ns: Ns) =>
      podConfig(w, "ns", { linux: { securityContext: { namespaceOptions: ns } } });
    const ctr = (cmd: string[], ns: Ns & { targetId?: string } = {}): ContainerConfig =>
      containerConfig(w, `c${n++}`, cmd, {
        linux: { securityContext: { namespaceOptions: ns } },
      });

    async function start(podId: string, p: ReturnType<typeof pod>, c: ContainerConfig) {
      const { containerId } = await w.rt.createContainer({
        podSandboxId: podId,
        config: c,
        sandboxConfig: p,
      });
      await w.rt.startContainer({ containerId });
      return containerId;
    }
    const sh = async (id: string, script: string) => {
      const r = await w.rt.execSync({ containerId: id, cmd: ["sh", "-c", script], timeout: 0n });
      return Buffer.from(r.stdout).toString() + Buffer.from(r.stderr).toString();
    };

    async function shmSeen(mode: NamespaceMode): Promise<boolean> {
      // `ipcmk -M` prints "Shared memory id: N"; busybox has no ipcs, /proc/sysvipc/shm lists the same.
      const out = execFileSync("ipcmk", ["-M", "1048576"]).toString();
      const shmid = /(\d+)\s*$/.exec(out.trim())?.[1] ?? "";
      assert.ok(shmid, out);
      const ns = { pid: NamespaceMode.POD, ipc: mode, network: NamespaceMode.POD };
      const p = pod(ns);
      const { podSandboxId } = await w.rt.runPodSandbox({ config: p });
      try {
        const id = await start(podSandboxId, p, ctr(["sleep", "3600"], ns));
        const table = await sh(id, "cat /proc/sysvipc/shm");
        return table.split("\n").some((l) => l.trim().split(/\s+/)[1] === shmid);
      } finally {
        await w.rt.removePodSandbox({ podSandboxId });
        execFileSync("ipcrm", ["-m", shmid]);
      }
    }

    test("runtime should support HostIpc is true", async () => {
      assert.equal(await shmSeen(NamespaceMode.NODE), true);
    });

    test("runtime should support HostIpc is false", async () => {
      assert.equal(await shmSeen(NamespaceMode.POD), false);
    });

    test("runtime should support HostPID: another host-PID container's process is visible", async () => {
      const ns = { pid: NamespaceMode.NODE, ipc: NamespaceMode.POD, network: NamespaceMode.POD };
      const p = pod(ns);
      const { podSandboxId } = await w.rt.runPodSandbox({ config: p });
      try {
        const first = await start(podSandboxId, p, ctr(["sleep", "3601"], ns));
        const second = await start(podSandboxId, p, ctr(["sleep", "3600"], ns));
        const hostPid = (await w.rt.containerStatus({ containerId: first, verbose: true })).info
          .info;
        const pid = (JSON.parse(hostPid ?? "{}") as { pid?: number }).pid;
        assert.ok(pid, "the verbose status names the container's pid");
        // Its pid as the host numbers it (so as a host-PID container sees it).
        const seen = await sh(second, `cat /proc/${pid}/cmdline | tr '\\0' ' '`);
        assert.match(seen, /sleep 3601/);
      } finally {
        await w.rt.removePodSandbox({ podSandboxId });
      }
    });

    async function listensOn(hostNetwork: boolean): Promise<boolean> {
      const srv = net.createServer((s) => s.end("hello"));
      await new Promise<void>((r) => srv.listen(0, r));
      const port = (srv.address() as net.AddressInfo).port;
      const ns = {
        pid: NamespaceMode.POD,
        ipc: NamespaceMode.POD,
        network: hostNetwork ? NamespaceMode.NODE : NamespaceMode.POD,
      };
      const p = pod(ns);
      const { podSandboxId } = await w.rt.runPodSandbox({ config: p });
      try {
        const id = await start(podSandboxId, p, ctr(["sleep", "3600"], ns));
        return (await sh(id, "busybox netstat -ln")).includes(`:${port} `);
      } finally {
        await w.rt.removePodSandbox({ podSandboxId });
        srv.close();
      }
    }

    test("runtime should support HostNetwork is true: the host's listening port is listed", async () => {
      assert.equal(await listensOn(true), true);
    });

    test("runtime should support HostNetwork is false: the host's listening port is not listed", async () => {
      assert.equal(await listensOn(false), false);
    });

    describe("PID namespace TARGET", () => {
      test("a container joins the target container's PID namespace", async () => {
        const ns = { pid: NamespaceMode.CONTAINER };
        const p = pod(ns);
        const { podSandboxId } = await w.rt.runPodSandbox({ config: p });
        try {
          const target = await start(podSandboxId, p, ctr(["sleep", "3602"], ns));
          const debug = await start(
            podSandboxId,
            p,
            ctr(["sleep", "3600"], { pid: NamespaceMode.TARGET, targetId: target }),
          );
          // The target's process is PID 1 there, and the debug container's own sleep is beside it.
          assert.match(await sh(debug, "cat /proc/1/cmdline | tr '\\0' ' '"), /sleep 3602/);
          const own = await sh(debug, "readlink /proc/self/ns/pid");
          assert.equal(await sh(target, "readlink /proc/self/ns/pid"), own);
          // A container without TARGET does not share it.
          const other = await start(podSandboxId, p, ctr(["sleep", "3600"], ns));
          assert.notEqual(await sh(other, "readlink /proc/self/ns/pid"), own);
        } finally {
          await w.rt.removePodSandbox({ podSandboxId });
        }
      });

      test("TARGET without target_id, or with an unknown one, is refused", async () => {
        const p = pod({ pid: NamespaceMode.CONTAINER });
        const { podSandboxId } = await w.rt.runPodSandbox({ config: p });
        try {
          const create = (targetId: string) =>
            w.rt.createContainer({
              podSandboxId,
              config: ctr(["sleep", "1"], { pid: NamespaceMode.TARGET, targetId }),
              sandboxConfig: p,
            });
          await assert.rejects(create(""), /TARGET needs target_id/);
          await assert.rejects(create("no-such-container"), /no such container/);
        } finally {
          await w.rt.removePodSandbox({ podSandboxId });
        }
      });
    });
  },
);
