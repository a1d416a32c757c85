// sbx-sandboxer under stock containerd 2.x's CRI, with this test standing in for
// containerd (containerd 2.x cannot be built here): the same calls, in the same
// order, with the same specs (containerd2-cri-steps.ts names each step after the
// containerd function it mirrors). The pod's netns is made here, as CRI makes
// it; containers arrive with /proc/<pid>/ns/* paths, an overlay rootfs from the
// overlayfs snapshotter's layout and FIFO stdio that a CRI logger turns into a log.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readlink, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { unpackAs } from "@sandboxd/api";
import { MetricsSchema } from "@sandboxd/api/cgroups/cgroup1/stats/metrics_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { isInvalidArgument, isNotFound } from "@sandboxd/errdefs";
import {
  killAndWait,
  mountsUnder,
  processAlive,
  repoRoot,
  requireBinary,
  waitUntil,
} from "@sandboxd/testing";
import type { Ctr } from "./containerd2-cri-steps.js";
import { CriStandIn, imageLayers, sandboxer } from "./containerd2-cri-steps.js";
import { feed, sandboxerFixture } from "./helpers.js";

const execFileAsync = promisify(execFile);

async function logOf(c: Ctr): Promise<string> {
  return readFile(c.logFile, "utf8").catch(() => "");
}

/** The content of a CRI log: each line checked for the CRI format, then its text. */
function logText(log: string): string[] {
  return log
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const m = /^(\S+) (stdout|stderr) ([PF]) (.*)$/.exec(line);
      assert.ok(m && !Number.isNaN(Date.parse(m[1]!)), `CRI log line: ${line}`);
      return m[4]!;
    });
}

test("containerd 2.x CRI: a pod with two containers, exec, attach, stats, update, kill -9 of the sandboxer, stop and remove", async (t) => {
  const f = await sandboxerFixture(t, { sweepIntervalMs: 200 });
  const cri = new CriStandIn(f, await imageLayers(f));
  // A volume with a submount, mounted recursively read-only ("rro", as CRI sends it).
  const vol = join(f.dir, "vol");
  await mkdir(join(vol, "sub"), { recursive: true });
  await execFileAsync("mount", ["-t", "tmpfs", "tmpfs", join(vol, "sub")]);
  t.after(() => execFileAsync("umount", [join(vol, "sub")]).catch(() => undefined));
  const uid = `uid${Date.now()}`;

  try {
    // RunPodSandbox
    const pod = await cri.runPodSandbox({
      name: "web",
      uid,
      namespace: "team",
      hostname: "web-0",
      dns: { servers: ["10.96.0.10"], searches: ["team.svc.cluster.local"], options: ["ndots:5"] },
      cgroupParent: `/${f.sbx.cgroupParent}/kubepods/pod${uid}`,
      pid: "POD",
      sysctls: { "kernel.shm_rmid_forced": "1", "net.ipv4.ping_group_range": "0 0" },
    });
    assert.match(pod.address, /^ttrpc\+unix:\/\//);
    assert.equal(pod.version, 3);
    assert.ok(pod.pid > 0, "a pod sharing its pid namespace reports its init");
    const status = await cri.controller.status({ sandboxId: pod.id, sandboxer });
    assert.equal(status.state, "SANDBOX_READY");
    assert.equal(status.info.netns, pod.netns);
    // containerd ran CNI in its netns: the sandboxer adds no network of its own.
    const { stdout: links } = await execFileAsync("ip", ["-n", pod.netnsName!, "-o", "link"]);
    assert.deepEqual(
      links
        .trim()
        .split("\n")
        .map((l) => l.split(":")[1]?.trim()),
      ["lo"],
    );

    // CreateContainer + StartContainer: the app, and a sidecar reading stdin (attach).
    const app = await cri.createContainer(pod, {
      name: "app",
      pid: "POD",
      args: [
        "sh",
        "-c",
        [
          "echo hostname=$(hostname)",
          "cat /etc/resolv.conf",
          "echo shm=$(cat /proc/sys/kernel/shm_rmid_forced)",
          "cat /etc/layer2",
          "echo pid1=$(cat /proc/1/comm)",
          "echo net=$(readlink /proc/self/ns/net)",
          "touch /vol/sub/x 2>/dev/null || echo rro=yes",
          "echo ready",
          "exec sleep 1000",
        ].join("; "),
      ],
      mounts: [
        { destination: "/vol", type: "bind", source: vol, options: ["rbind", "rprivate", "rro"] },
      ],
    });
    await cri.startContainer(app);
    const sidecar = await cri.createContainer(pod, {
      name: "sidecar",
      pid: "POD",
      stdin: true,
      args: ["sh", "-c", "read l; echo got:$l; exec sleep 1000"],
    });
    await cri.startContainer(sidecar);
    await waitUntil(async () => (await logOf(app)).includes("ready"), { timeoutMs: 20_000 });
    const netInode = (await stat(pod.netns)).ino;
    assert.deepEqual(logText(await logOf(app)), [
      "hostname=web-0",
      "search team.svc.cluster.local",
      "nameserver 10.96.0.10",
      "options ndots:5",
      "shm=1",
      "from the second layer",
      "pid1=catatonit",
      `net=net:[${netInode}]`,
      "rro=yes",
      "ready",
    ]);
    // Attach: what is written to the container's stdin FIFO reaches it.
    await feed(sidecar.fifos.stdin!, "attached\n");
    await waitUntil(async () => (await logOf(sidecar)).includes("got:attached"), {
      timeoutMs: 20_000,
    });

    // ExecSync: both containers are in one pod (ipc, uts, pid, net).
    const inApp = await cri.execSync(
      app,
      ["sh", "-c", "readlink /proc/self/ns/ipc; hostname; ps"],
      20_000,
    );
    const inSidecar = await cri.execSync(sidecar, ["readlink", "/proc/self/ns/ipc"], 20_000);
    assert.equal(inApp.exitCode, 0);
    assert.equal(inApp.stdout.split("\n")[0], inSidecar.stdout.trim());
    assert.equal(inApp.stdout.split("\n")[1], "web-0");
    assert.match(inApp.stdout, /read l|sleep 1000/, "the pod's pid namespace is shared");
    // One /dev/shm per pod, as with a pause container.
    await cri.execSync(app, ["sh", "-c", "echo shared > /dev/shm/a"], 20_000);
    assert.equal((await cri.execSync(sidecar, ["cat", "/dev/shm/a"], 20_000)).stdout, "shared\n");
    // ExecSync with a timeout: the exec'd process is killed, not the container.
    const slow = await cri.execSync(app, ["sleep", "60"], 1000);
    assert.equal(slow.timedOut, true);
    assert.equal(slow.exitCode, 137);
    assert.equal((await cri.tasks.state({ id: app.id })).status, Status.RUNNING);

    // ListContainerStats (Task.Stats) and pod stats (Controller.Metrics).
    const stats = (await cri.tasks.stats({ id: app.id })).stats;
    assert.match(stats?.typeUrl ?? "", /^io\.containerd\.cgroups\.v[12]\.Metrics$/);
    if (stats?.typeUrl === "io.containerd.cgroups.v1.Metrics")
      assert.ok((unpackAs(stats, MetricsSchema)?.memory?.usage?.usage ?? 0n) > 0n);
    const podMetric = (await cri.controller.metrics({ sandboxId: pod.id, sandboxer })).metrics;
    assert.equal(podMetric?.id, pod.id);
    // The pod's cgroup is below kubelet's cgroup parent.
    const podCgroup = status.info.cgroup!;
    assert.equal(podCgroup, `${f.sbx.cgroupParent}/kubepods/pod${uid}/${pod.id}`);

    // UpdateContainerResources.
    await cri.updateContainerResources(app, { memory: { limit: 96 << 20 } });
    const memFile = `/sys/fs/cgroup/memory/${podCgroup}/${app.id}/memory.limit_in_bytes`;
    if (existsSync("/sys/fs/cgroup/memory"))
      assert.equal((await readFile(memFile, "utf8")).trim(), String(96 << 20));

    // kill -9 of the sandboxer. A third container shows what stock containerd 2.0–2.3 do then.
    const victim = await cri.createContainer(pod, {
      name: "victim",
      pid: "POD",
      args: ["sleep", "1000"],
    });
    await cri.startContainer(victim);
    await f.sbx.kill("SIGKILL");
    // containerd's task connection closes: every in-flight Wait fails (ErrClosed). containerd
    // 2.0–2.3 never reconnect it; CRI's exit monitor records exit 255 and handleContainerExit
    // deletes the task (Delete fails on the closed connection and is ignored) and its bundle.
    for (const c of [app, sidecar, victim]) await assert.rejects(c.exited!);
    await execFileAsync("umount", [join(victim.bundle, "rootfs")]);
    await rm(victim.bundle, { recursive: true, force: true });
    await f.sbx.restart();
    // A client that reconnects (sandboxd; containerd's loadShim from bootstrap.json) finds every
    // container it still knows running, with no exit reported, and exec and IO working.
    await f.reconnect();
    cri.refresh();
    for (const c of [app, sidecar]) {
      assert.ok(c.pid > 0 && (await processAlive(c.pid)), "the container outlived the sandboxer");
      const s = await cri.tasks.state({ id: c.id });
      assert.equal(s.status, Status.RUNNING);
      assert.equal(s.pid, c.pid);
    }
    assert.equal(
      (await cri.controller.status({ sandboxId: pod.id, sandboxer })).state,
      "SANDBOX_READY",
    );
    // The container containerd forgot is an orphan (kubelet would start a new one): the
    // sandboxer sees its bundle gone and removes it.
    await waitUntil(async () => !(await processAlive(victim.pid)), {
      timeoutMs: 20_000,
      what: "the orphan to go",
    });
    await waitUntil(
      () =>
        cri.tasks.state({ id: victim.id }).then(
          () => false,
          (e: Error) => /not found/.test(e.message),
        ),
      { timeoutMs: 20_000, what: "the orphan's task to be removed" },
    );
    await cri.removeContainer(victim);
    const after = await cri.execSync(app, ["sh", "-c", "echo back; hostname"], 20_000);
    assert.deepEqual([after.exitCode, after.stdout], [0, "back\nweb-0\n"]);

    // StopContainer + RemoveContainer, then StopPodSandbox + RemovePodSandbox.
    assert.equal(await cri.stopContainer(sidecar, 10_000), 143);
    assert.equal(await cri.stopContainer(app, 10_000), 143);
    await assert.rejects(cri.tasks.state({ id: app.id }), /not found/);
    assert.ok(logText(await logOf(sidecar)).includes("got:attached"));
    await cri.removeContainer(sidecar);
    await cri.removeContainer(app);
    await cri.stopPodSandbox(pod);
    assert.equal(
      (await cri.controller.status({ sandboxId: pod.id, sandboxer })).state,
      "SANDBOX_NOTREADY",
    );
    await cri.removePodSandbox(pod);
    await assert.rejects(cri.controller.status({ sandboxId: pod.id, sandboxer }), (e: Error) =>
      isNotFound(e),
    );
    await execFileAsync("umount", [join(vol, "sub")]);
    // Nothing mounted is left but the instance's own pin directory (not a pod's).
    const pinRoot = join(f.sbx.stateDir, "ns");
    assert.deepEqual(
      (await mountsUnder(f.dir)).filter((m) => m !== pinRoot),
      [],
    );
    await f.checkLeaks();
  } catch (err) {
    await cri.abandon();
    throw err;
  }
});

test("containerd 2.x CRI: a host-network, host-IPC, host-PID pod shares the host's namespaces; bad sysctls are refused", async (t) => {
  const f = await sandboxerFixture(t);
  const cri = new CriStandIn(f, await imageLayers(f));
  try {
    const pod = await cri.runPodSandbox({
      name: "node-agent",
      uid: `uid${Date.now()}`,
      namespace: "kube-system",
      network: "NODE",
      ipc: "NODE",
      pid: "NODE",
    });
    assert.equal(pod.pid, 0, "no process per pod");
    const c = await cri.createContainer(pod, {
      name: "agent",
      pid: "NODE",
      args: ["sh", "-c", "for n in net ipc pid uts; do readlink /proc/self/ns/$n; done; hostname"],
    });
    await cri.startContainer(c);
    assert.equal((await c.exited)?.exitStatus, 0);
    await cri.handleContainerExit(c);
    const host = await Promise.all(
      ["net", "ipc", "pid", "uts"].map((n) => readlink(`/proc/self/ns/${n}`)),
    );
    const { hostname } = await import("node:os");
    assert.deepEqual(logText(await logOf(c)), [...host, hostname()]);
    await cri.removeContainer(c);
    await cri.stopPodSandbox(pod);
    await cri.removePodSandbox(pod);

    // A node-wide sysctl: refused by name, and nothing of the pod is left.
    await assert.rejects(
      cri.runPodSandbox({
        name: "bad",
        uid: "u2",
        namespace: "default",
        sysctls: { "kernel.panic": "1" },
      }),
      (e: Error) => isInvalidArgument(e) && /kernel\.panic/.test(e.message),
    );
  } catch (err) {
    await cri.abandon();
    throw err;
  }
  await f.checkLeaks();
});

test("containerd 2.x CRI with the task keeper: a kill -9 of the sandboxer drops no connection, the in-flight Wait answers later", async (t) => {
  await requireBinary("/usr/bin/gcc", "gcc");
  // Built from source for the test, as scripts/setup.sh builds it for the node.
  const build = await mkdtemp(join(tmpdir(), "sbx-keeper-"));
  t.after(() => rm(build, { recursive: true, force: true }));
  const keeper = join(build, "sbx-task-keeper");
  await execFileAsync("gcc", [
    "-O2",
    "-o",
    keeper,
    join(repoRoot, "packages", "sandboxer", "native", "task-keeper.c"),
  ]);
  const f = await sandboxerFixture(t, {
    extra: `[binaries]\ntask_keeper = ${JSON.stringify(keeper)}`,
  });
  const keeperPid = Number(
    (await readFile(join(f.sbx.stateDir, "task-keeper.pid"), "utf8")).trim(),
  );
  t.after(() => killAndWait(keeperPid).catch(() => undefined));
  const cri = new CriStandIn(f, await imageLayers(f));
  try {
    const pod = await cri.runPodSandbox({
      name: "kept",
      uid: `uid${Date.now()}`,
      namespace: "default",
      pid: "CONTAINER",
    });
    const c = await cri.createContainer(pod, {
      name: "kept",
      args: ["sh", "-c", "trap 'exit 7' TERM; echo up; while :; do sleep 1; done"],
    });
    await cri.startContainer(c);
    await waitUntil(async () => (await logOf(c)).includes("up"), { timeoutMs: 20_000 });

    await f.sbx.kill("SIGKILL");
    await f.sbx.restart();
    // The same connection, never reopened: the keeper replayed nothing but unanswered requests.
    assert.equal((await cri.tasks.state({ id: c.id })).status, Status.RUNNING);
    const after = await cri.execSync(c, ["echo", "still here"], 20_000);
    assert.deepEqual([after.exitCode, after.stdout], [0, "still here\n"]);
    // Replacing the binary: a clean stop, then a start; the connection still holds.
    await f.sbx.kill("SIGTERM");
    await f.sbx.restart();
    assert.equal((await cri.tasks.state({ id: c.id })).status, Status.RUNNING);
    assert.equal((await cri.execSync(c, ["echo", "again"], 20_000)).stdout, "again\n");
    // CRI's Wait, issued before the kill, answers with the real exit once the container stops.
    assert.equal(await cri.stopContainer(c, 10_000), 7);
    assert.equal((await c.exited)?.exitStatus, 7);
    await cri.removeContainer(c);
    await cri.stopPodSandbox(pod);
    await cri.removePodSandbox(pod);
  } catch (err) {
    await cri.abandon();
    throw err;
  }
  await f.checkLeaks();
});
