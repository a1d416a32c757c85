// kill -9 of the sandboxer with pods running, then a restart: every pod and
// container is back, and exits that happened while it was down are reported
// with their codes (Wait, State) and forwarded as events.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { JsonTypeUrl, packJson, unpack } from "@sandboxd/api";
import { Events } from "@sandboxd/api/services/ttrpc/events/v1/events_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { processAlive, waitUntil } from "@sandboxd/testing";
import { Server } from "@sandboxd/ttrpc";
import { bundle, sandboxerFixture } from "./helpers.js";

const pods = 10;

test("kill -9 with 10 pods running, restart: everything is back, exits while down are reported", async (t) => {
  const socketDir = await mkdtemp("/tmp/sbx-rec-");
  t.after(() => rm(socketDir, { recursive: true, force: true }));
  const exits: { containerId: string; id: string; exitStatus: number }[] = [];
  const events = new Server();
  events.register(Events, {
    forward(req) {
      if (req.envelope?.topic === "/tasks/exit" && req.envelope.event) {
        const e = unpack(req.envelope.event) as unknown as {
          containerId: string;
          id: string;
          exitStatus: number;
        };
        exits.push({ containerId: e.containerId, id: e.id, exitStatus: e.exitStatus });
      }
      return {};
    },
  });
  await events.listen(join(socketDir, "events.sock"));
  t.after(() => events.close());

  const f = await sandboxerFixture(t, { eventsAddress: join(socketDir, "events.sock") });
  const shared = join(f.dir, "shared");
  await mkdir(shared, { recursive: true });
  const ctl = f.controller();
  let tasks = f.tasks();
  const pids = new Map<string, number>();
  for (let i = 0; i < pods; i++) {
    const pod = `pod${i}`;
    await ctl.create({ sandboxId: pod });
    await ctl.start({ sandboxId: pod });
    const mounts = [
      { destination: "/shared", type: "bind", source: shared, options: ["rbind", "rw"] },
    ];
    const waiter = await bundle(f, `${pod}-waiter`, {
      args: [
        "/bin/sh",
        "-c",
        `while [ ! -e /shared/go-${i} ]; do sleep 0.05; done; exit ${10 + i}`,
      ],
      sandboxId: pod,
      mounts,
    });
    const sleeper = await bundle(f, `${pod}-sleeper`, {
      args: ["/bin/sleep", "1000"],
      sandboxId: pod,
    });
    for (const [id, b] of [
      [`${pod}-waiter`, waiter],
      [`${pod}-sleeper`, sleeper],
    ] as const) {
      const { pid } = await tasks.create({ id, bundle: b, stdout: "", stderr: "" });
      await tasks.start({ id });
      pids.set(id, pid);
    }
  }
  // An exec that will also finish while the sandboxer is down.
  await tasks.exec({
    id: "pod0-sleeper",
    execId: "x",
    stdout: "",
    stderr: "",
    spec: packJson(JsonTypeUrl.Process, {
      args: ["/bin/sh", "-c", "while [ ! -e /shared/go-exec ]; do sleep 0.05; done; exit 42"],
      cwd: "/",
      user: { uid: 0, gid: 0 },
    }),
  });
  // The exec's container has no /shared: its trigger goes in through /proc/<pid>/root.
  const execPid = (await tasks.start({ id: "pod0-sleeper", execId: "x" })).pid;

  await f.sbx.kill("SIGKILL");
  // While it is down, half of the waiters and the exec finish.
  for (let i = 0; i < pods / 2; i++) await writeFile(join(shared, `go-${i}`), "");
  await mkdir(`/proc/${execPid}/root/shared`, { recursive: true });
  await writeFile(`/proc/${execPid}/root/shared/go-exec`, "");
  for (let i = 0; i < pods / 2; i++) {
    const pid = pids.get(`pod${i}-waiter`)!;
    await waitUntil(async () => !(await processAlive(pid)), { what: `pod${i}-waiter to exit` });
  }
  await waitUntil(async () => !(await processAlive(execPid)), { what: "the exec to exit" });

  await f.sbx.restart();
  await f.reconnect();
  tasks = f.tasks();
  const info = await f.admin().info({});
  assert.equal(info.sandboxes, pods);
  assert.equal(info.containers, pods * 2);

  for (let i = 0; i < pods; i++) {
    assert.equal((await ctl.status({ sandboxId: `pod${i}` })).state, "SANDBOX_READY");
    const waiter = `pod${i}-waiter`;
    if (i < pods / 2) {
      assert.equal((await tasks.wait({ id: waiter })).exitStatus, 10 + i, waiter);
      assert.equal((await tasks.state({ id: waiter })).status, Status.STOPPED);
    } else {
      assert.equal((await tasks.state({ id: waiter })).status, Status.RUNNING);
    }
    assert.equal((await tasks.state({ id: `pod${i}-sleeper` })).status, Status.RUNNING);
  }
  assert.equal((await tasks.wait({ id: "pod0-sleeper", execId: "x" })).exitStatus, 42);
  await waitUntil(() => exits.length >= pods / 2 + 1, {
    what: "exit events of what finished while down",
  });
  for (let i = 0; i < pods / 2; i++) {
    assert.ok(
      exits.some((e) => e.containerId === `pod${i}-waiter` && e.exitStatus === 10 + i),
      `exit event of pod${i}-waiter`,
    );
  }
  assert.ok(
    exits.some((e) => e.containerId === "pod0-sleeper" && e.id === "x" && e.exitStatus === 42),
  );

  // Still fully controllable: the rest exit on request, after the restart.
  for (let i = pods / 2; i < pods; i++) await writeFile(join(shared, `go-${i}`), "");
  for (let i = pods / 2; i < pods; i++) {
    assert.equal((await tasks.wait({ id: `pod${i}-waiter` })).exitStatus, 10 + i);
  }
  await tasks.kill({ id: "pod3-sleeper", signal: 9 });
  assert.equal((await tasks.wait({ id: "pod3-sleeper" })).exitStatus, 137);
  for (let i = 0; i < pods; i++) {
    await ctl.stop({ sandboxId: `pod${i}`, timeoutSecs: 0 });
    await ctl.shutdown({ sandboxId: `pod${i}` });
  }
  await f.checkLeaks();
});
