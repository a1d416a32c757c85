// sandboxd hosting sbx-sandboxer in its own process (`[sandbox] in_process`):
// no sandboxer process runs; stopped (kill -9, or SIGTERM) and started again,
// sandboxd and the sandboxer recover together from disk. The pod and its
// containers run on meanwhile (conmon holds them): the same processes answer
// afterwards, and a container killed while sandboxd was down reports its
// exit. Nothing is left behind. (go-client-flow.test.ts runs the pod life
// cycle in this mode too.)
import { test } from "node:test";
import assert from "node:assert/strict";
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
