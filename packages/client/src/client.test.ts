// The SDK against an in-process fake daemon: real gRPC, real FIFOs, host
// processes as tasks. No root needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  isAlreadyExists,
  isFailedPrecondition,
  isInvalidArgument,
  isNotFound,
  isUnavailable,
  notImplemented,
} from "@sandboxd/errdefs";
import { Client } from "./client.js";
import { capture } from "./cio/io.js";
import { defaultSpec, execProcess } from "./oci/spec.js";
import { startFakeDaemon, type FakeDaemon } from "./testing/fake-daemon.js";

async function setup(t: { after: (fn: () => Promise<void>) => void }): Promise<{
  daemon: FakeDaemon;
  client: Client;
  fifoDir: string;
}> {
  const dir = await mkdtemp(join(tmpdir(), "sbx-client-test-"));
  const daemon = await startFakeDaemon({ dir });
  const client = await Client.connect({ address: daemon.address, namespace: "test" });
  const fifoDir = join(dir, "fifo");
  t.after(async () => {
    client.close();
    await daemon.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { daemon, client, fifoDir };
}

test("every call carries the view's namespace", async (t) => {
  const { daemon, client } = await setup(t);
  assert.equal((await client.version()).version, "v0.0.0-fake");
  await client.sandboxes();
  await client.withNamespace("other").containers();
  assert.ok(daemon.calls.includes("test /containerd.services.sandbox.v1.Store/List"));
  assert.ok(daemon.calls.includes("other /containerd.services.containers.v1.Containers/List"));
  assert.throws(() => client.withNamespace("bad name"), isInvalidArgument);
});

test("namespaces: create, label, list, delete", async (t) => {
  const { client } = await setup(t);
  await client.namespaces.create("team-a", { owner: "me" });
  const labelled = await client.namespaces.setLabels("team-a", { env: "dev", owner: "" });
  assert.deepEqual(labelled.labels, { env: "dev" });
  assert.ok((await client.namespaces.list()).some((n) => n.name === "team-a"));
  await client.namespaces.delete("team-a");
  await assert.rejects(client.namespaces.delete("team-a"), isNotFound);
});

test("newSandbox creates the record and the instance; start, status, ping, platform, metrics", async (t) => {
  const { client } = await setup(t);
  const sandbox = await client.newSandbox("pod1", { labels: { app: "web" } });
  assert.equal(sandbox.info.runtime.name, "io.containerd.sbx.v1");
  assert.equal(sandbox.sandboxer, "shim");
  assert.ok(sandbox.info.createdAt instanceof Date);
  await assert.rejects(sandbox.ping(), isUnavailable, "not ready before start");
  const instance = await sandbox.start();
  assert.equal(instance.sandboxId, "pod1");
  assert.equal(instance.address, "ttrpc+unix:///run/fake.sock");
  assert.equal(instance.version, 3);
  await sandbox.ping();
  const status = await sandbox.status({ verbose: true });
  assert.equal(status.state, "SANDBOX_READY");
  assert.deepEqual(status.info, { fake: "true" });
  assert.deepEqual(await sandbox.platform(), {
    os: "linux",
    architecture: "amd64",
    variant: "",
    osVersion: "",
  });
  const metrics = await sandbox.metrics();
  assert.equal(metrics.cgroup, "v2");
  const loaded = await client.loadSandbox("pod1");
  assert.deepEqual(loaded.info.labels, { app: "web" });
  assert.deepEqual(
    (await client.sandboxes()).map((s) => s.id),
    ["pod1"],
  );
  await assert.rejects(client.newSandbox("pod1"), isAlreadyExists);
  await assert.rejects(client.loadSandbox("nope"), (err) => {
    assert.ok(isNotFound(err));
    assert.match((err as Error).message, /sandbox "nope"/);
    return true;
  });
});

test("a failed Controller.Create leaves no Store record", async (t) => {
  const { daemon, client } = await setup(t);
  daemon.failNext("Controller/Create", notImplemented("no controller"));
  await assert.rejects(client.newSandbox("broken"), /no controller/);
  await assert.rejects(client.loadSandbox("broken"), isNotFound);
});

test("update labels; stop and wait; shutdown deletes the record", async (t) => {
  const { client } = await setup(t);
  const sandbox = await client.newSandbox("pod2", { labels: { a: "1", b: "2" } });
  await sandbox.start();
  const info = await sandbox.update({ labels: { a: "", c: "3" } });
  assert.deepEqual(info.labels, { b: "2", c: "3" });
  const exited = sandbox.wait();
  await sandbox.stop({ timeoutMs: 1500 });
  assert.equal((await exited).exitStatus, 0);
  await sandbox.shutdown();
  await assert.rejects(client.loadSandbox("pod2"), isNotFound);
});

test("a task in a sandbox: output, exit status, pids, metrics, delete", async (t) => {
  const { client, fifoDir } = await setup(t);
  const sandbox = await client.newSandbox("pod3");
  await sandbox.start();
  const container = await sandbox.newContainer("c1", {
    spec: defaultSpec({
      id: "c1",
      args: ["sh", "-c", "read line; echo got $line; echo warn >&2; exit 3"],
    }),
  });
  assert.equal(container.sandbox, "pod3");
  assert.equal(container.info.runtime.name, "io.containerd.sbx.v1");
  const io = capture("hello\n", { fifoDir });
  const task = await container.newTask({ io });
  assert.ok(task.pid > 0, "created tasks have a pid");
  const exited = task.wait();
  await task.start();
  assert.equal(
    (await task.status()).status === "running" || (await task.status()).status === "stopped",
    true,
  );
  const status = await exited;
  assert.equal(status.exitStatus, 3);
  assert.ok(status.exitedAt instanceof Date);
  assert.equal(io.stdout, "got hello\n");
  assert.equal(io.stderr, "warn\n");
  assert.equal((await task.status()).status, "stopped");
  assert.deepEqual(
    (await task.pids()).map((p) => p.pid),
    [task.pid],
  );
  assert.equal((await task.metrics()).cgroup, "v2");
  assert.equal((await client.tasks()).length, 1);
  const deleted = await task.delete();
  assert.equal(deleted.exitStatus, 3);
  assert.deepEqual(await readdir(fifoDir), [], "FIFOs are removed");
  await assert.rejects(sandbox.shutdown(), (err) => {
    assert.ok(isFailedPrecondition(err));
    assert.match((err as Error).message, /still has containers \(c1\)/);
    return true;
  });
  await container.delete();
  await sandbox.shutdown();
});

test("kill, exec, pause/resume, and forced deletes", async (t) => {
  const { client, fifoDir } = await setup(t);
  const sandbox = await client.newSandbox("pod4");
  await sandbox.start();
  const spec = defaultSpec({ id: "c2", args: ["sleep", "1000"] });
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

  await sandbox.pause();
  assert.equal((await task.status()).status, "paused");
  await sandbox.resume();
  assert.equal((await task.status()).status, "running");

  const exited = task.wait();
  await task.kill("SIGTERM");
  assert.equal((await exited).exitStatus, 128 + 15);
  await task.delete();

  const t2 = await container.newTask();
  await t2.start();
  await sandbox.shutdown({ force: true });
  assert.deepEqual(await client.containers(), []);
  assert.deepEqual(await client.sandboxes(), []);
});

test("subscribe decodes events and stops on abort", async (t) => {
  const { client } = await setup(t);
  const controller = new AbortController();
  const stream = client.subscribe(['namespace==test,topic=="/sandboxes/start"'], {
    signal: controller.signal,
  });
  const events = stream[Symbol.asyncIterator]();
  const next = events.next();
  // The stream is set up asynchronously: make events until it delivers one.
  let got: Awaited<typeof next> | undefined;
  for (let i = 0; got === undefined && i < 1000; i++) {
    await (await client.newSandbox(`pod5-${i}`)).start();
    got = await Promise.race([next, new Promise<undefined>((r) => setImmediate(r, undefined))]);
  }
  assert.ok(got && !got.done);
  const e = got.value;
  assert.equal(e.topic, "/sandboxes/start");
  assert.equal(e.namespace, "test");
  assert.ok(e.timestamp instanceof Date);
  assert.equal(e.event?.$typeName, "containerd.events.SandboxStart");
  if (e.event?.$typeName === "containerd.events.SandboxStart")
    assert.match(e.event.sandboxId, /^pod5-/);
  controller.abort();
  assert.equal((await events.next()).done, true);
});

test("a daemon that is not there is Unavailable and names the address", async () => {
  const client = await Client.connect({ address: "/nonexistent/sandboxd.sock" });
  await assert.rejects(client.version(), (err) => {
    assert.ok(isUnavailable(err));
    assert.match((err as Error).message, /\/nonexistent\/sandboxd\.sock/);
    return true;
  });
  client.close();
});
