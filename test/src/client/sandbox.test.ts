// The SDK against a real sandboxd and sbx-sandboxer: the Sandbox API path
// (Store + Controller), containers in a sandbox, tasks routed to the sandboxer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { isFailedPrecondition, isNotFound } from "@sandboxd/errdefs";
import { Client, capture, defaultSpec, execProcess } from "@sandboxd/client";
import { requireSandboxApi, startDaemon } from "./daemon.js";

/** A client of a fresh sandboxd; undefined (and the test todo) while it has no Sandbox API. */
async function connect(t: {
  after: (fn: () => Promise<void>) => void;
  todo: (message: string) => void;
}) {
  const daemon = await startDaemon(t);
  if (!(await requireSandboxApi(t, daemon.address))) return undefined;
  const client = await Client.connect({ address: daemon.address, namespace: "sdk-it" });
  t.after(() => Promise.resolve(client.close()));
  return { client, rootfs: daemon.rootfs, fifoDir: join(daemon.dir, "fifo") };
}

test("a sandbox: create, start, status, ping, platform, stop, wait, shutdown", async (t) => {
  const it = await connect(t);
  if (!it) return;
  const { client } = it;
  const sandbox = await client.newSandbox("pod1", { labels: { app: "it" } });
  const instance = await sandbox.start();
  assert.equal(instance.sandboxId, "pod1");
  await sandbox.ping();
  assert.equal((await sandbox.status()).state, "SANDBOX_READY");
  assert.equal((await sandbox.platform()).os, "linux");
  assert.deepEqual((await client.loadSandbox("pod1")).info.labels, { app: "it" });
  assert.deepEqual(
    (await client.sandboxes()).map((s) => s.id),
    ["pod1"],
  );
  const exited = sandbox.wait();
  await sandbox.stop({ timeoutMs: 2000 });
  await exited;
  await sandbox.shutdown();
  await assert.rejects(client.loadSandbox("pod1"), isNotFound);
});

test("containers in a sandbox: output, stdin, exit status, exec, pause, metrics", async (t) => {
  const it = await connect(t);
  if (!it) return;
  const { client, rootfs, fifoDir } = it;
  const sandbox = await client.newSandbox("pod2");
  await sandbox.start();
  const c1 = await sandbox.newContainer("c1", {
    spec: defaultSpec({
      id: "c1",
      namespace: client.namespace,
      args: ["sh", "-c", "read line; echo got $line; echo warn >&2; exit 3"],
      rootfs,
      readonlyRootfs: true,
    }),
  });
  assert.equal(c1.sandbox, "pod2");
  const io = capture("hello\n", { fifoDir });
  const t1 = await c1.newTask({ io });
  const exited = t1.wait();
  await t1.start();
  assert.equal((await exited).exitStatus, 3);
  assert.equal(io.stdout, "got hello\n");
  assert.equal(io.stderr, "warn\n");
  await t1.delete();

  const spec = defaultSpec({
    id: "c2",
    namespace: client.namespace,
    args: ["sleep", "1000"],
    rootfs,
    readonlyRootfs: true,
  });
  const c2 = await sandbox.newContainer("c2", { spec });
  const t2 = await c2.newTask();
  await t2.start();
  const out = capture(undefined, { fifoDir });
  const proc = await t2.exec("e1", execProcess(spec, { args: ["hostname"] }), { io: out });
  const execExited = proc.wait();
  await proc.start();
  assert.equal((await execExited).exitStatus, 0);
  assert.notEqual(out.stdout.trim(), "");
  await proc.delete();
  await sandbox.pause();
  assert.equal((await t2.status()).status, "paused");
  await sandbox.resume();
  assert.equal((await t2.status()).status, "running");
  const metrics = await t2.metrics();
  assert.ok(metrics.cgroup !== "unknown", `metrics type ${metrics.raw?.typeUrl}`);

  await assert.rejects(sandbox.shutdown(), isFailedPrecondition);
  await sandbox.shutdown({ force: true });
  assert.deepEqual(await client.containers(), []);
  assert.deepEqual(await client.tasks(), []);
  assert.deepEqual(await client.sandboxes(), []);
});

test("a task exit arrives as an event", async (t) => {
  const it = await connect(t);
  if (!it) return;
  const { client, rootfs } = it;
  const sandbox = await client.newSandbox("pod3");
  await sandbox.start();
  const stop = new AbortController();
  let exitStatus: number | undefined;
  const collected = (async () => {
    for await (const e of client.subscribe(
      [`namespace==${client.namespace},topic=="/tasks/exit"`],
      { signal: stop.signal },
    )) {
      if (e.event?.$typeName === "containerd.events.TaskExit") {
        exitStatus = e.event.exitStatus;
        stop.abort();
      }
    }
  })();
  // The subscription is set up asynchronously: run containers until it reports one.
  for (let i = 0; !stop.signal.aborted && i < 50; i++) {
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
    await task.delete();
    await c.delete();
  }
  await collected;
  assert.equal(exitStatus, 7);
  await sandbox.shutdown({ force: true });
});
