// The SDK's containers and tasks inside a sandbox, against a real sandboxd and
// sbx-sandboxer (root): output, stdin, exit status, pids, exec, kill,
// pause/resume, metrics, refusals, forced shutdown, events as an async iterator.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { isFailedPrecondition, messageOf } from "@sandboxd/errdefs";
import { capture, defaultSpec, execProcess } from "@sandboxd/client";
import { connect } from "./daemon.js";

test("a task in a sandbox: output, stdin, exit status, pids, metrics, delete", async (t) => {
  const { client, rootfs, fifoDir } = await connect(t);
  const sandbox = await client.newSandbox("pod3");
  await sandbox.start();
  const container = await sandbox.newContainer("c1", {
    spec: defaultSpec({
      id: "c1",
      namespace: client.namespace,
      args: ["sh", "-c", "read line; echo got $line; echo warn >&2; sleep 0.2; exit 3"],
      rootfs,
      readonlyRootfs: true,
    }),
    labels: { role: "one" },
  });
  assert.equal(container.sandbox, "pod3");
  assert.equal(container.info.runtime.name, "io.containerd.sbx.v1", "the sandbox's runtime");
  assert.deepEqual(
    (await sandbox.containers()).map((c) => c.id),
    ["c1"],
  );
  assert.deepEqual((await client.loadContainer("c1")).info.labels, { role: "one" });
  const io = capture("hello\n", { fifoDir });
  const task = await container.newTask({ io });
  assert.ok(task.pid > 0, "created tasks have a pid");
  assert.equal((await task.status()).status, "created");
  const exited = task.wait();
  await task.start();
  assert.ok(["running", "stopped"].includes((await task.status()).status));
  const status = await exited;
  assert.equal(status.exitStatus, 3);
  assert.ok(status.exitedAt instanceof Date);
  assert.equal(io.stdout, "got hello\n");
  assert.equal(io.stderr, "warn\n");
  const stopped = await task.status();
  assert.equal(stopped.status, "stopped");
  assert.equal(stopped.exitStatus, 3);
  assert.equal((await client.tasks()).length, 1);
  const deleted = await task.delete();
  assert.equal(deleted.exitStatus, 3);
  assert.deepEqual(await readdir(fifoDir), [], "FIFOs are removed");
  await assert.rejects(sandbox.shutdown(), (err) => {
    assert.ok(isFailedPrecondition(err));
    assert.match(messageOf(err), /still has containers \(c1\)/);
    return true;
  });
  await container.delete();
  await sandbox.shutdown();
  assert.deepEqual(await client.sandboxes(), []);
});

test("exec, pids, kill, pause/resume, refusals, forced shutdown", async (t) => {
  const { client, rootfs, fifoDir } = await connect(t);
  const sandbox = await client.newSandbox("pod4");
  await sandbox.start();
  // PID 1 gets only the signals it handles: this one handles SIGTERM.
  const spec = defaultSpec({
    id: "c2",
    namespace: client.namespace,
    args: ["sh", "-c", "trap 'exit 143' TERM; sleep 1000 & wait"],
    rootfs,
    readonlyRootfs: true,
  });
  const container = await sandbox.newContainer("c2", { spec });
  const task = await container.newTask();
  await task.start();
  await assert.rejects(task.delete(), isFailedPrecondition);
  await assert.rejects(container.delete(), isFailedPrecondition);

  const out = capture(undefined, { fifoDir });
  const proc = await task.exec("e1", execProcess(spec, { args: ["echo", "from exec"] }), {
    io: out,
  });
  const execExit = proc.wait();
  await proc.start();
  assert.equal((await execExit).exitStatus, 0);
  assert.equal(out.stdout, "from exec\n");
  await proc.delete();
  const pids = (await task.pids()).map((p) => p.pid);
  assert.ok(pids.includes(task.pid), `pids ${pids.join(",")} include ${task.pid}`);

  await sandbox.pause();
  assert.equal((await task.status()).status, "paused");
  await sandbox.resume();
  assert.equal((await task.status()).status, "running");
  const metrics = await task.metrics();
  assert.notEqual(metrics.cgroup, "unknown");
  assert.equal(metrics.id, "c2");

  const exited = task.wait();
  await task.kill("SIGTERM");
  assert.equal((await exited).exitStatus, 143);
  await task.delete();

  // A second task of the same container, left running: a forced shutdown removes it all.
  const t2 = await container.newTask();
  await t2.start();
  await sandbox.newContainer("idle", {
    spec: defaultSpec({ id: "idle", namespace: client.namespace, args: ["true"], rootfs }),
  });
  await assert.rejects(sandbox.shutdown(), isFailedPrecondition);
  await sandbox.shutdown({ force: true });
  assert.deepEqual(await client.containers(), []);
  assert.deepEqual(await client.tasks(), []);
  assert.deepEqual(await client.sandboxes(), []);
});

test("events: an async iterator of decoded events, ended by abort", async (t) => {
  const { client, rootfs } = await connect(t);
  const stop = new AbortController();
  const stream = client.subscribe(
    [`namespace==${client.namespace},topic~="^/(sandboxes/start|tasks/exit)$"`],
    { signal: stop.signal },
  );
  const events = stream[Symbol.asyncIterator]();
  let next = events.next();
  // The subscription is set up asynchronously: make pods until it reports one.
  let got: Awaited<typeof next> | undefined;
  for (let i = 0; got === undefined && i < 50; i++) {
    const sandbox = await client.newSandbox(`ev${i}`);
    await sandbox.start();
    const c = await sandbox.newContainer(`ev${i}`, {
      spec: defaultSpec({
        id: `ev${i}`,
        namespace: client.namespace,
        args: ["sh", "-c", "exit 7"],
        rootfs,
        readonlyRootfs: true,
      }),
    });
    const task = await c.newTask();
    const exited = task.wait();
    await task.start();
    await exited;
    await sandbox.shutdown({ force: true });
    got = await Promise.race([next, new Promise<undefined>((r) => setImmediate(r, undefined))]);
  }
  assert.ok(got && !got.done, "an event arrived");
  const seen = [got.value];
  // The first one seen may be a start or an exit; read on to the exit.
  while (seen.at(-1)!.topic !== "/tasks/exit") {
    next = events.next();
    const r = await next;
    assert.ok(!r.done);
    seen.push(r.value);
  }
  for (const e of seen) {
    assert.equal(e.namespace, client.namespace);
    assert.ok(e.timestamp instanceof Date);
  }
  const start = seen.find((e) => e.topic === "/sandboxes/start");
  if (start) assert.equal(start.event?.$typeName, "containerd.events.SandboxStart");
  const exit = seen.at(-1)!;
  assert.equal(exit.event?.$typeName, "containerd.events.TaskExit");
  if (exit.event?.$typeName === "containerd.events.TaskExit") {
    assert.match(exit.event.containerId, /^ev\d+$/);
    assert.equal(exit.event.exitStatus, 7);
  }
  stop.abort();
  assert.equal((await events.next()).done, true, "abort ends the iterator");
});
