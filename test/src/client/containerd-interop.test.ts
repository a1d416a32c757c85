// The SDK against a real containerd 1.6 (runc through containerd-shim-runc-v2):
// the wire format, namespaces, containers, tasks, exec, FIFO IO, terminal,
// events and errors, before sandboxd serves them. Root.
import { after, test } from "node:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import assert from "node:assert/strict";
import { join } from "node:path";
import { isFailedPrecondition, isNotFound } from "@sandboxd/errdefs";
import { Client, capture, defaultSpec, execProcess, type Envelope } from "@sandboxd/client";
import { startContainerd } from "@sandboxd/testing";
import { busyboxRootfs, requireRoot, tempDir } from "./helpers.js";

const RUNC = { name: "io.containerd.runc.v2" };

// One containerd for the file (it takes seconds to stop); a namespace per test.
let shared: Promise<{ address: string; rootfs: string; dir: string }> | undefined;
let stopContainerd: (() => Promise<void>) | undefined;

after(async () => {
  await stopContainerd?.();
  if (shared) await rm((await shared).dir, { recursive: true, force: true });
});

async function setup(t: { name: string; after: (fn: () => Promise<void>) => void }) {
  requireRoot();
  shared ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "sbx-sdk-containerd-"));
    const containerd = await startContainerd({ dir: join(dir, "containerd") });
    stopContainerd = () => containerd.stop();
    return { address: containerd.address, rootfs: await busyboxRootfs(join(dir, "rootfs")), dir };
  })();
  const { address, rootfs } = await shared;
  const namespace = `sdk-${t.name
    .replace(/[^a-z0-9]+/gi, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 40)}`;
  const client = await Client.connect({ address, namespace });
  const fifoDir = await tempDir(t, "sbx-sdk-fifo-");
  t.after(() => Promise.resolve(client.close()));
  return { client, rootfs, fifoDir };
}

test("containerd 1.6: a task's output, stdin, exit status and cleanup", async (t) => {
  const { client, rootfs, fifoDir } = await setup(t);
  assert.match((await client.version()).version, /^1\.6\./);
  const container = await client.newContainer("c1", {
    runtime: RUNC,
    spec: defaultSpec({
      id: "c1",
      namespace: client.namespace,
      args: ["sh", "-c", "read line; echo got $line; echo warn >&2; exit 3"],
      rootfs,
      readonlyRootfs: true,
    }),
    labels: { test: "yes" },
  });
  assert.equal(container.info.runtime.name, "io.containerd.runc.v2");
  const io = capture("hello\n", { fifoDir });
  const task = await container.newTask({ io });
  assert.ok(task.pid > 0);
  const exited = task.wait();
  await task.start();
  const status = await exited;
  assert.equal(status.exitStatus, 3);
  assert.ok(status.exitedAt instanceof Date);
  assert.equal(io.stdout, "got hello\n");
  assert.equal(io.stderr, "warn\n");
  assert.equal((await task.delete()).exitStatus, 3);
  await container.delete();
  await assert.rejects(client.loadContainer("c1"), isNotFound);
});

test("containerd 1.6: exec, pids, pause/resume, metrics, kill, forced delete", async (t) => {
  const { client, rootfs, fifoDir } = await setup(t);
  const spec = defaultSpec({
    id: "c2",
    namespace: client.namespace,
    args: ["sleep", "1000"],
    rootfs,
  });
  const container = await client.newContainer("c2", { runtime: RUNC, spec });
  const task = await container.newTask();
  await task.start();
  await assert.rejects(task.delete(), isFailedPrecondition);

  const out = capture(undefined, { fifoDir });
  const proc = await task.exec(
    "e1",
    execProcess(spec, { args: ["sh", "-c", "echo in exec; exit 4"] }),
    {
      io: out,
    },
  );
  const execExit = proc.wait();
  await proc.start();
  assert.equal((await execExit).exitStatus, 4);
  assert.equal(out.stdout, "in exec\n");
  await proc.delete();

  // Input reaches an exec and its end reaches the process: the runc shim keeps
  // its own writer on the stdin FIFO, so EOF needs Tasks.CloseIO.
  const echo = capture("line one\nline two\n", { fifoDir });
  const reader = await task.exec(
    "e2",
    execProcess(spec, { args: ["sh", "-c", 'while read l; do echo "<$l>"; done'] }),
    { io: echo },
  );
  const readerExit = reader.wait();
  await reader.start();
  assert.equal((await readerExit).exitStatus, 0);
  assert.equal(echo.stdout, "<line one>\n<line two>\n");
  await reader.delete();

  assert.ok((await task.pids()).some((p) => p.pid === task.pid));
  assert.deepEqual(
    (await client.tasks()).map((p) => [p.containerId, p.status]),
    [["c2", "running"]],
  );
  await task.pause();
  assert.equal((await task.status()).status, "paused");
  await task.resume();
  assert.equal((await task.status()).status, "running");
  const metrics = await task.metrics();
  assert.ok(
    metrics.cgroup === "v1" || metrics.cgroup === "v2",
    `metrics type ${metrics.raw?.typeUrl}`,
  );

  const exited = task.wait();
  await task.kill("SIGKILL");
  assert.equal((await exited).exitStatus, 137);
  await task.delete();

  const again = await container.newTask();
  await again.start();
  await container.delete({ force: true });
  assert.deepEqual(await client.containers(), []);
});

test("containerd 1.6: a terminal", async (t) => {
  const { client, rootfs, fifoDir } = await setup(t);
  const container = await client.newContainer("tty", {
    runtime: RUNC,
    spec: defaultSpec({
      id: "tty",
      namespace: client.namespace,
      args: ["sh", "-c", "tty; echo err >&2"],
      rootfs,
      terminal: true,
    }),
  });
  const io = capture(undefined, { fifoDir, terminal: true });
  const task = await container.newTask({ io });
  const exited = task.wait();
  await task.start();
  await task.resize(100, 40).catch(() => undefined); // may race the exit
  assert.equal((await exited).exitStatus, 0);
  assert.match(io.stdout, /^\/dev\/pts\/\d+\r\nerr\r\n$/);
  await task.delete();
  await container.delete();
});

test("containerd 1.6: events and namespaces", async (t) => {
  const { client, rootfs } = await setup(t);
  await client.namespaces.create("sdk-other", { a: "1" });
  assert.deepEqual((await client.namespaces.setLabels("sdk-other", { a: "", b: "2" })).labels, {
    b: "2",
  });
  await client.namespaces.delete("sdk-other");

  const stop = new AbortController();
  const seen: Envelope[] = [];
  const stream = client.subscribe([`namespace==${client.namespace},topic=="/tasks/exit"`], {
    signal: stop.signal,
  });
  const collected = (async () => {
    for await (const e of stream) {
      seen.push(e);
      if (e.event?.$typeName === "containerd.events.TaskExit" && e.event.containerId === "ev")
        stop.abort();
    }
  })();
  // The subscription is set up asynchronously; run containers until it reports one.
  for (let i = 0; !stop.signal.aborted && i < 50; i++) {
    const container = await client.newContainer("ev", {
      runtime: RUNC,
      spec: defaultSpec({
        id: "ev",
        namespace: client.namespace,
        args: ["sh", "-c", "exit 7"],
        rootfs,
      }),
    });
    const task = await container.newTask();
    const exited = task.wait();
    await task.start();
    await exited;
    await task.delete();
    await container.delete();
  }
  await collected;
  const exit = seen.find((e) => e.event?.$typeName === "containerd.events.TaskExit");
  assert.ok(exit, "a /tasks/exit event arrived");
  assert.equal(exit.topic, "/tasks/exit");
  assert.equal(exit.namespace, client.namespace);
  if (exit.event?.$typeName === "containerd.events.TaskExit")
    assert.equal(exit.event.exitStatus, 7);
});
