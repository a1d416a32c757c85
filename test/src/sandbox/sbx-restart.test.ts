// The real sbx-sandboxer killed (-9) and started again under sandboxd, through
// the shim controller and through a proxy plugin: while it is down its
// sandboxes are NOTREADY with the reason and their tasks are neither dropped
// nor declared dead (the containers run on under conmon); once it is back
// sandboxd reconnects (backoff), the same processes answer, Waits made before
// the outage return. Then sandboxd itself is killed (-9) and restarted: the
// pod and its task are found again. Nothing is left behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { processAlive, waitUntil } from "@sandboxd/testing";
import { collectEvents } from "./helpers.js";
import { modes, newContainer, sbxSandbox, sbxWorld, type SbxWorld } from "./sbx.js";

/** kill -9 the sandboxer (the proxy the test runs, or the one the shim started). */
async function killSandboxer(w: SbxWorld): Promise<void> {
  if (w.proxy) return w.proxy.kill("SIGKILL");
  const pids = await w.daemon.sandboxerPids();
  assert.equal(pids.length, 1, `one shim-started sandboxer (${pids.join(", ")})`);
  for (const pid of pids) process.kill(pid, "SIGKILL");
  await waitUntil(async () => (await w.daemon.sandboxerPids()).length === 0, {
    what: "the sandboxer to die",
  });
}

// In process, the sandboxer is sandboxd: inproc.test.ts restarts them together.
for (const mode of modes.filter((m) => m !== "inproc")) {
  test(`sbx-sandboxer kill -9 and back through ${mode}: NOTREADY meanwhile, tasks reconnect and carry on; then sandboxd kill -9`, async (t) => {
    const w = await sbxWorld(t, mode);
    const events = await collectEvents(t, w.c, [`namespace==${w.namespace}`]);
    await w.c.store.create({ sandbox: sbxSandbox(w, "pod", "pod") });
    await w.c.controller.start({ sandboxId: "pod" });
    await newContainer(w, "pod", "app", ["sleep", "1000"]);
    const { pid } = await w.c.tasks.create({ containerId: "app" });
    await w.c.tasks.start({ containerId: "app" });
    await newContainer(w, "pod", "stays", ["sleep", "1000"]);
    const stays = (await w.c.tasks.create({ containerId: "stays" })).pid;
    await w.c.tasks.start({ containerId: "stays" });
    const taskExit = w.c.tasks.wait({ containerId: "app" });

    await killSandboxer(w);
    const down = await waitUntil(
      async () => {
        const st = await w.c.controller.status({ sandboxId: "pod" });
        return st.state === "SANDBOX_NOTREADY" ? st : undefined;
      },
      { what: "NOTREADY while the sandboxer is down" },
    );
    assert.match(down.info.reason ?? "", /unreachable/);
    assert.ok(await processAlive(pid), "the container runs on without its sandboxer");
    assert.deepEqual(
      (await w.c.tasks.list({})).tasks.map((x) => x.id),
      ["app", "stays"],
      "the tasks are kept",
    );

    // Back: the proxy is started again by the test; in shim mode the next
    // sandbox's containerd-shim-sbx-v1 `start` starts it, as for any new pod.
    if (w.proxy) await w.proxy.restart();
    await w.c.store.create({ sandbox: sbxSandbox(w, "next", "next") });
    await w.c.controller.start({ sandboxId: "next" });
    await waitUntil(
      async () => (await w.c.controller.status({ sandboxId: "pod" })).state === "SANDBOX_READY",
      { what: "the pod ready again", timeoutMs: 30_000 },
    );
    const task = await waitUntil(
      async () => {
        const p = (await w.c.tasks.get({ containerId: "app" })).process;
        return p?.status === Status.RUNNING ? p : undefined;
      },
      { what: "the task answering again", timeoutMs: 30_000 },
    );
    assert.equal(task.pid, pid, "the same process");
    assert.ok(
      !events.of("/tasks/exit").some((e) => e.containerId === "app"),
      "no exit was made up for the task",
    );

    await w.c.tasks.kill({ containerId: "app", signal: 9 });
    assert.equal((await taskExit).exitStatus, 137, "a Wait made before the outage returns");
    await w.c.tasks.delete({ containerId: "app" });
    await w.c.containers.delete({ id: "app" });

    // sandboxd kill -9 and back: the pod and its other task are found again.
    await w.restartDaemon();
    assert.equal(
      (await w.c.controller.status({ sandboxId: "pod" })).state,
      "SANDBOX_READY",
      "status after a sandboxd restart",
    );
    await waitUntil(
      async () =>
        (await w.c.tasks.get({ containerId: "stays" })).process?.status === Status.RUNNING,
      { what: "the task after a sandboxd restart", timeoutMs: 30_000 },
    );
    const events2 = await collectEvents(t, w.c, [`namespace==${w.namespace}`]);
    const staysExit = w.c.tasks.wait({ containerId: "stays" });
    await w.c.tasks.kill({ containerId: "stays", signal: 9 });
    assert.equal((await staysExit).exitStatus, 137);
    await waitUntil(async () => !(await processAlive(stays)), { what: "the container to exit" });
    await w.c.tasks.delete({ containerId: "stays" });
    await w.c.containers.delete({ id: "stays" });
    await w.c.controller.stop({ sandboxId: "pod" });
    await waitUntil(() => events2.of("/sandboxes/exit").some((e) => e.sandboxId === "pod"), {
      what: "/sandboxes/exit from the re-armed monitor",
    });
    for (const id of ["pod", "next"]) {
      await w.c.controller.shutdown({ sandboxId: id });
      await w.c.store.delete({ sandboxId: id });
    }
    await w.checkLeaks();
  });
}
