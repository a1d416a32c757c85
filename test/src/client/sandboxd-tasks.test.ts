// The SDK against a real sandboxd, containers without a sandbox (the runtime
// v2 path): io.containerd.sbx.v1 (sbx-sandboxer through its shim) and
// containerd's own runc shim. IO, stdin EOF, exec, terminal, pause, metrics,
// events, errors. Root.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { isFailedPrecondition, isNotFound } from "@sandboxd/errdefs";
import { Client, capture, defaultSpec, execProcess } from "@sandboxd/client";
import { sbxStack } from "./daemon.js";
import { startStack } from "@sandboxd/testing";

for (const runtime of ["io.containerd.sbx.v1", "io.containerd.runc.v2"]) {
  test(`sandboxd, ${runtime}: output, stdin, exec, terminal, pause, metrics, events`, async (t) => {
    const daemon = await startStack(t, sbxStack);
    const client = await Client.connect({ address: daemon.address, namespace: "sdk-tasks" });
    t.after(() => Promise.resolve(client.close()));
    const { rootfs } = daemon;
    const fifoDir = join(daemon.dir, "fifo");
    const spec = (id: string, args: string[], terminal = false) =>
      defaultSpec({
        id,
        namespace: client.namespace,
        args,
        rootfs,
        readonlyRootfs: true,
        terminal,
      });

    // Events: subscribe first; the loop below makes exits until one is seen.
    const stop = new AbortController();
    const exits: number[] = [];
    const collected = (async () => {
      for await (const e of client.subscribe(
        [`namespace==${client.namespace},topic=="/tasks/exit"`],
        {
          signal: stop.signal,
        },
      )) {
        if (e.event?.$typeName === "containerd.events.TaskExit") exits.push(e.event.exitStatus);
      }
    })();

    const c1 = await client.newContainer("c1", {
      runtime: { name: runtime },
      spec: spec("c1", ["sh", "-c", "read line; echo got $line; echo warn >&2; exit 3"]),
    });
    const io = capture("hello\n", { fifoDir });
    const t1 = await c1.newTask({ io });
    const exited = t1.wait();
    await t1.start();
    assert.equal((await exited).exitStatus, 3);
    assert.equal(io.stdout, "got hello\n");
    assert.equal(io.stderr, "warn\n");
    await t1.delete();
    await c1.delete();

    const serverSpec = spec("c2", ["sleep", "1000"]);
    const c2 = await client.newContainer("c2", { runtime: { name: runtime }, spec: serverSpec });
    const t2 = await c2.newTask();
    await t2.start();
    await assert.rejects(c2.delete(), isFailedPrecondition);
    const lines = capture("one\ntwo\n", { fifoDir });
    const reader = await t2.exec(
      "e1",
      execProcess(serverSpec, { args: ["sh", "-c", 'while read l; do echo "<$l>"; done; exit 4'] }),
      { io: lines },
    );
    const readerExit = reader.wait();
    await reader.start();
    assert.equal((await readerExit).exitStatus, 4, "stdin EOF reached the exec");
    assert.equal(lines.stdout, "<one>\n<two>\n");
    await reader.delete();

    const tty = capture(undefined, { fifoDir, terminal: true });
    const shell = await t2.exec("e2", execProcess(serverSpec, { args: ["tty"], terminal: true }), {
      io: tty,
    });
    const shellExit = shell.wait();
    await shell.start();
    assert.equal((await shellExit).exitStatus, 0);
    assert.match(tty.stdout, /^\/dev\/pts\/\d+\r\n$/);
    await shell.delete();

    await t2.pause();
    assert.equal((await t2.status()).status, "paused");
    await t2.resume();
    assert.equal((await t2.status()).status, "running");
    const metrics = await t2.metrics();
    assert.notEqual(metrics.cgroup, "unknown", `metrics type ${metrics.raw?.typeUrl}`);
    assert.deepEqual(
      (await client.tasks()).map((p) => [p.containerId, p.status]),
      [["c2", "running"]],
    );
    await c2.delete({ force: true });
    await assert.rejects(client.loadContainer("c2"), isNotFound);

    for (let i = 0; exits.length === 0 && i < 50; i++) {
      const c = await client.newContainer(`ev${i}`, {
        runtime: { name: runtime },
        spec: spec(`ev${i}`, ["true"]),
      });
      const task = await c.newTask();
      const done = task.wait();
      await task.start();
      await done;
      await task.delete();
      await c.delete();
    }
    stop.abort();
    await collected;
    assert.ok(exits.length > 0, "a /tasks/exit event arrived");
  });
}
