// sandboxd hosting sbx-sandboxer in its own process (`[sandbox] in_process`):
// no sandboxer process runs; stopped (kill -9, or SIGTERM) and started again,
// sandboxd and the sandboxer recover together from disk. The pod and its
// containers run on meanwhile (conmon holds them): the same processes answer
// afterwards, and a container killed while sandboxd was down reports its
// exit. Killed in the middle of pod creations, both recover to pods that are
// there or can be removed through the API, and nothing is left behind.
// (go-client-flow.test.ts runs the pod life cycle in this mode too.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { isNotFound } from "@sandboxd/errdefs";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { processAlive, waitUntil } from "@sandboxd/testing";
import { collectEvents, processesMentioning } from "./helpers.js";
import { newContainer, sbxSandbox, sbxWorld } from "./sbx.js";

for (const how of ["kill -9", "SIGTERM"] as const) {
  test(`sbx-sandboxer in sandboxd's process, sandboxd ${how} and back: the pod and its containers carry on, an exit meanwhile is reported`, async (t) => {
    const w = await sbxWorld(t, "inproc");
    assert.deepEqual(
      (await processesMentioning("sbx-sandboxer")).filter((p) => p.includes(w.dir)),
      [],
      "no sandboxer process of its own",
    );
    await w.c.store.create({ sandbox: sbxSandbox(w, "pod", "inpod") });
    await w.c.controller.start({ sandboxId: "pod" });
    await newContainer(w, "pod", "app", ["sleep", "1000"]);
    const app = (await w.c.tasks.create({ containerId: "app" })).pid;
    await w.c.tasks.start({ containerId: "app" });
    await newContainer(w, "pod", "dies", ["sleep", "1000"]);
    const dies = (await w.c.tasks.create({ containerId: "dies" })).pid;
    await w.c.tasks.start({ containerId: "dies" });

    if (how === "SIGTERM") assert.equal(await w.daemon.terminate(), 0, "a clean stop");
    else await w.daemon.kill();
    assert.ok(await processAlive(app), "the container runs on while sandboxd is down");
    process.kill(dies, "SIGKILL");
    await waitUntil(async () => !(await processAlive(dies)), { what: "the container to die" });
    await w.restartDaemon();

    const st = await w.c.controller.status({ sandboxId: "pod" });
    assert.equal(st.state, "SANDBOX_READY");
    assert.equal(st.info.hostname, "inpod");
    const task = await waitUntil(
      async () => {
        const p = (await w.c.tasks.get({ containerId: "app" })).process;
        return p?.status === Status.RUNNING ? p : undefined;
      },
      { what: "the task answering again", timeoutMs: 30_000 },
    );
    assert.equal(task.pid, app, "the same process");
    assert.equal(
      (await w.c.tasks.wait({ containerId: "dies" })).exitStatus,
      137,
      "the exit that happened while sandboxd was down",
    );
    assert.equal((await w.c.tasks.get({ containerId: "dies" })).process?.status, Status.STOPPED);

    const events = await collectEvents(t, w.c, [`namespace==${w.namespace}`]);
    const appExit = w.c.tasks.wait({ containerId: "app" });
    await w.c.tasks.kill({ containerId: "app", signal: 9 });
    assert.equal((await appExit).exitStatus, 137);
    await waitUntil(() => events.of("/tasks/exit").some((e) => e.containerId === "app"), {
      what: "/tasks/exit from the sandboxer after the restart",
    });
    for (const id of ["app", "dies"]) {
      await w.c.tasks.delete({ containerId: id });
      await w.c.containers.delete({ id });
    }
    const sandboxExit = w.c.controller.wait({ sandboxId: "pod" });
    await w.c.controller.stop({ sandboxId: "pod", timeoutSecs: 5 });
    await sandboxExit;
    await w.c.controller.shutdown({ sandboxId: "pod" });
    await w.c.store.delete({ sandboxId: "pod" });
    await w.checkLeaks();
  });
}

test("sbx-sandboxer in sandboxd's process, sandboxd kill -9 during pod creations: every pod is ready or a prefix of its creation, and all of it can be removed", async (t) => {
  const w = await sbxWorld(t, "inproc");
  const ids = ["c0", "c1", "c2", "c3"];
  const create = async (id: string): Promise<void> => {
    await w.c.store.create({ sandbox: sbxSandbox(w, id, id) });
    await w.c.controller.start({ sandboxId: id });
    await newContainer(w, id, `${id}-app`, ["sleep", "1000"]);
    await w.c.tasks.create({ containerId: `${id}-app` });
    await w.c.tasks.start({ containerId: `${id}-app` });
  };
  // The kill fails the creations still under way: their outcome is what the restart finds.
  const creations = ids.map((id) => create(id).catch(() => undefined));
  // Not a wait for a condition: the moment of the fault, somewhere in the creations.
  await sleep(400);
  await w.daemon.kill();
  await Promise.all(creations);
  await w.restartDaemon();

  const force = { metadata: { "sandboxd-force": "true" } };
  // Each pod is ready, or a prefix of its creation: created but its start undone (both
  // processes died with it; a Start makes it ready), or a Store row only (no instance).
  for (const { sandboxId } of (await w.c.store.list({})).list) {
    const st = await w.c.controller.status({ sandboxId }).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (st?.state === "SANDBOX_NOTREADY") {
      assert.equal(st.info.reason, undefined, `${sandboxId}: not ready only for want of a start`);
      await w.c.controller.start({ sandboxId });
      const again = await w.c.controller.status({ sandboxId });
      assert.equal(again.state, "SANDBOX_READY", `${sandboxId} started after the restart`);
    } else if (st) {
      assert.equal(st.state, "SANDBOX_READY", sandboxId);
    }
    await w.c.controller.shutdown({ sandboxId }, force);
    await w.c.store.delete({ sandboxId });
  }
  assert.deepEqual((await w.c.tasks.list({})).tasks, [], "the forced shutdowns took the tasks");
  for (const { id } of (await w.c.containers.list({})).containers) {
    await w.c.containers.delete({ id });
  }
  await w.checkLeaks();
});
