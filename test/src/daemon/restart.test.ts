// Crash-only: kill -9 sandboxd with containers running, let one container
// exit and one shim die while it is down, start it again on the same root and
// state. Everything is known again; live tasks are controllable; the exits
// that happened while it was down are reported by Wait and published.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Channel } from "@sandboxd/grpc";
import { Tasks } from "@sandboxd/api/services/tasks/v1/tasks_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { busyboxRootfs, requireRoot, startSandboxd, waitUntil } from "@sandboxd/testing";

const ns = "restart";

/** Whether `pid` runs (a zombie waiting for its reaper does not count). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** The pid of the shim serving `id` for the daemon at `address`. */
async function shimPid(address: string, id: string): Promise<number> {
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    const args = cmdline.split("\0");
    if (
      args[0]?.endsWith("containerd-shim-runc-v2") &&
      args.includes(address) &&
      args.includes(id)
    ) {
      return Number(entry);
    }
  }
  throw new Error(`no shim for ${id}`);
}

test("after kill -9 and restart, tasks are recovered and exits during the outage are reported", async (t) => {
  requireRoot();
  // One daemon dir across the restart; cleanup in one hook, in order: the
  // client, whichever sandboxd runs last, the directory.
  const dir = await mkdtemp(join(tmpdir(), "sbxd-"));
  const client: { channel?: Channel } = {};
  let daemon = await startSandboxd({ dir: join(dir, "d") });
  t.after(async () => {
    client.channel?.close();
    await daemon.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const rootfs = await busyboxRootfs(join(dir, "rootfs"));
  const flag = `go-${process.pid}`;
  const ctr = (args: string[]) => daemon.ctr(args, { namespace: ns });

  const run = async (id: string, ...cmd: string[]): Promise<void> => {
    const r = await ctr(["run", "-d", "--rootfs", rootfs, id, ...cmd]);
    assert.equal(r.code, 0, r.stderr);
  };
  await run("live1", "/bin/sleep", "600");
  await run("live2", "/bin/sleep", "600");
  await run("exits", "/bin/sh", "-c", `while [ ! -e /tmp/${flag} ]; do sleep 0.05; done; exit 42`);
  await run("shimdies", "/bin/sleep", "600");
  const pids = new Map<string, number>();
  for (const line of (await ctr(["tasks", "ls"])).stdout.split("\n").slice(1).filter(Boolean)) {
    const [id, pid, status] = line.split(/\s+/);
    assert.equal(status, "RUNNING", line);
    pids.set(id!, Number(pid));
  }
  assert.equal(pids.size, 4);

  // Crash. While sandboxd is down: "exits" exits 42; the shim of "shimdies" is killed.
  await daemon.kill();
  await writeFile(join(rootfs, "tmp", flag), "");
  await waitUntil(() => !alive(pids.get("exits")!), { what: "container exits to exit" });
  const deadShim = await shimPid(daemon.address, "shimdies");
  process.kill(deadShim, "SIGKILL");
  await waitUntil(() => !alive(deadShim), { what: "the shim of shimdies to die" });

  daemon = await startSandboxd({ dir: join(dir, "d") });
  const channel = new Channel(daemon.address, { metadata: { "containerd-namespace": ns } });
  client.channel = channel;
  const tasks = channel.client(Tasks);

  // All four are known, with the right status.
  const listed = new Map((await tasks.list({})).tasks.map((p) => [p.id, p]));
  assert.deepEqual([...listed.keys()].sort(), ["exits", "live1", "live2", "shimdies"]);
  assert.equal(listed.get("live1")?.status, Status.RUNNING);
  assert.equal(listed.get("live2")?.status, Status.RUNNING);
  assert.equal(listed.get("exits")?.status, Status.STOPPED);
  assert.equal(listed.get("exits")?.exitStatus, 42);
  assert.equal(listed.get("shimdies")?.status, Status.STOPPED);

  // Wait answers for exits that happened while sandboxd was down.
  assert.equal((await tasks.wait({ containerId: "exits" })).exitStatus, 42);
  assert.equal((await tasks.wait({ containerId: "shimdies" })).exitStatus, 137);
  assert.ok(!alive(pids.get("shimdies")!), "the shim's delete killed the orphaned container");

  // ... and /tasks/exit was published for both when sandboxd came back.
  const log = await daemon.log();
  const published = (id: string): boolean =>
    log
      .split("\n")
      .some(
        (l) =>
          l.includes('"topic":"/tasks/exit"') &&
          l.includes('"msg":"event published"') &&
          l.includes(`"id":"${id}"`),
      );
  assert.ok(published("exits"), "/tasks/exit published for exits");
  assert.ok(published("shimdies"), "/tasks/exit published for shimdies");

  // The live tasks are controllable.
  await tasks.kill({ containerId: "live1", signal: 9 });
  assert.equal((await tasks.wait({ containerId: "live1" })).exitStatus, 137);
  const exec = await ctr(["tasks", "exec", "--exec-id", "e1", "live2", "/bin/sh", "-c", "exit 5"]);
  assert.equal(exec.code, 5, exec.stderr);
  await tasks.kill({ containerId: "live2", signal: 9 });
  assert.equal((await tasks.wait({ containerId: "live2" })).exitStatus, 137);

  // Delete returns the recorded exits; nothing is left behind.
  for (const [id, status] of [
    ["live1", 137],
    ["live2", 137],
    ["exits", 42],
    ["shimdies", 137],
  ] as const) {
    const deleted = await tasks.delete({ containerId: id });
    assert.equal(deleted.exitStatus, status, id);
    assert.equal((await ctr(["containers", "rm", id])).code, 0);
  }
  assert.equal((await tasks.list({})).tasks.length, 0);
  const bundles = join(daemon.state, "io.containerd.runtime.v2.task", ns);
  await waitUntil(async () => (await readdir(bundles)).length === 0, {
    what: "bundles to be removed",
  });
});
