// The service stack in process (containers and tasks locals → task manager →
// shim manager → a fake task API over real ttrpc), without root: containers
// with a sandbox are routed to the sandbox's task endpoint (version 3, no
// shim binary), which is also how the Sandbox API will plug in.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { background, withNamespace } from "@sandboxd/core";
import {
  failedPrecondition,
  isAlreadyExists,
  isFailedPrecondition,
  isNotFound,
  isUnknown,
} from "@sandboxd/errdefs";
import { waitUntil } from "@sandboxd/testing";
import { Status } from "@sandboxd/api/types/task/task_pb";
import type { TaskEndpoint } from "./shim-manager.js";
import { TaskManager } from "./task-manager.js";
import { TasksLocal } from "../services/tasks/local.js";
import { createContainer, ctx, exit, fakeTaskServer, stack } from "./task-stack.fixture.js";

test("a container in a sandbox gets the sandbox's task API: no shim, bundle records the route", async (t) => {
  const s = await stack(t);
  createContainer(s, "app", "sb1");
  const created = await s.tasksLocal.create(ctx, { containerId: "app" } as never);
  assert.equal(created.pid, 42, "the pid comes from Create");
  assert.equal(s.fake.control.connects, 0, "no Connect when Create gave the pid");
  const bundle = join(s.dirs.state, "k8s", "app");
  const files = (await readdir(bundle)).sort();
  assert.deepEqual(files, ["bootstrap.json", "config.json", "rootfs", "sandbox", "work"]);
  await assert.rejects(s.tasksLocal.create(ctx, { containerId: "app" } as never), isAlreadyExists);

  await s.tasksLocal.start(ctx, { containerId: "app", execId: "" } as never);
  const got = await s.tasksLocal.get(ctx, { containerId: "app", execId: "" } as never);
  assert.equal(got.process?.status, Status.RUNNING);
  const list = await s.tasksLocal.list(withNamespace(background(), "other"), {} as never);
  assert.deepEqual(list.tasks, [], "tasks are per namespace");

  await assert.rejects(
    Promise.resolve().then(() => s.containers.delete(ctx, { id: "app" } as never)),
    (e: Error) => isFailedPrecondition(e) && /cannot delete running task app/.test(e.message),
  );
  const waiting = s.tasksLocal.wait(ctx, { containerId: "app", execId: "" } as never);
  await s.tasksLocal.kill(ctx, { containerId: "app", signal: 9, all: false, execId: "" } as never);
  assert.equal((await waiting).exitStatus, 137);
  const deleted = await s.tasksLocal.delete(ctx, { containerId: "app" } as never);
  assert.equal(deleted.exitStatus, 137);
  await s.tasks.settle();
  assert.deepEqual(await readdir(join(s.dirs.state, "k8s")), [], "bundle removed");
  s.containers.delete(ctx, { id: "app" } as never);
  assert.ok(s.fake.procs.size === 0);
});

test("a task API whose Create answers no pid is asked for it with Connect", async (t) => {
  const s = await stack(t);
  s.fake.control.createPid = 0;
  createContainer(s, "app", "sb1");
  const created = await s.tasksLocal.create(ctx, { containerId: "app" } as never);
  assert.equal(created.pid, 42, "the pid comes from Connect");
  assert.equal(s.fake.control.connects, 1);
});

test("events come after the commit, and not at all when the store refuses", async (t) => {
  const s = await stack(t);
  createContainer(s, "c1", "");
  assert.deepEqual(
    s.events.map((e) => e.topic),
    ["/containers/create"],
  );
  assert.throws(() => createContainer(s, "c1", ""), isAlreadyExists);
  assert.throws(() => s.containers.delete(ctx, { id: "nope" } as never), isNotFound);
  assert.deepEqual(
    s.events.map((e) => e.topic),
    ["/containers/create"],
  );
});

test("an unknown runtime fails before any side effect (Unknown, like containerd)", async (t) => {
  const s = await stack(t);
  createContainer(s, "lost", "", "io.containerd.nope.v1");
  await assert.rejects(s.tasksLocal.create(ctx, { containerId: "lost" } as never), (e: Error) => {
    return (
      isUnknown(e) &&
      e.message.includes(
        'runtime "io.containerd.nope.v1" binary not installed "containerd-shim-nope-v1"',
      )
    );
  });
  assert.deepEqual(await readdir(s.dirs.state).catch(() => []), []);
});

test("a container whose sandbox does not exist is refused before any side effect", async (t) => {
  const s = await stack(t);
  createContainer(s, "orphan", "sb-unknown");
  await assert.rejects(
    s.tasksLocal.create(ctx, { containerId: "orphan" } as never),
    (e: Error) => isNotFound(e) && e.message.includes('sandbox "sb-unknown"'),
  );
  assert.deepEqual(await readdir(s.dirs.state).catch(() => []), []);
});

test("the bundle is made while the sandbox's controller is asked, and removed when it refuses", async (t) => {
  const s = await stack(t);
  const bundle = join(s.dirs.state, "k8s", "app");
  const made = async (): Promise<boolean> => (await readdir(bundle).catch(() => [])).length > 0;
  let answer!: (ok: boolean) => void;
  const asking = (): Promise<TaskEndpoint> =>
    new Promise((resolve, reject) => {
      answer = (ok) =>
        ok
          ? resolve({ address: `ttrpc+unix://${s.socket}`, version: 3 })
          : reject(failedPrecondition('sandbox "sb1" is not ready: exited'));
    });
  /** A create whose controller has not answered yet, once its bundle is made meanwhile. */
  const createWhileAsked = async (): Promise<{
    creating: ReturnType<typeof s.tasksLocal.create>;
  }> => {
    s.pendingEndpoints.set("sb1", asking());
    const creating = s.tasksLocal.create(ctx, { containerId: "app" } as never);
    await waitUntil(made, {
      timeoutMs: 30_000,
      what: "the bundle made while the controller is asked",
    });
    return { creating };
  };
  createContainer(s, "app", "sb1");

  const { creating: refused } = await createWhileAsked();
  answer(false);
  await assert.rejects(refused, isFailedPrecondition);
  assert.equal(await made(), false, "bundle removed");
  assert.equal(s.fake.procs.size, 0);

  const { creating: created } = await createWhileAsked();
  answer(true);
  assert.equal((await created).pid, 42);
  assert.equal(s.fake.procs.size, 1);
});

test("after a restart tasks reconnect; a sandbox task API that goes away is waited for, not buried", async (t) => {
  const s = await stack(t);
  createContainer(s, "app", "sb1");
  createContainer(s, "gone", "sb1");
  for (const id of ["app", "gone"]) {
    await s.tasksLocal.create(ctx, { containerId: id } as never);
    await s.tasksLocal.start(ctx, { containerId: id, execId: "" } as never);
  }
  await s.tasks.close();

  // A new task manager over the same dirs: the daemon after a restart.
  const restarted = new TaskManager({
    dirs: s.dirs,
    shims: s.shims,
    publisher: s.exchange,
    containerExists: (c, id) => s.metadata.containers.has(c, id),
    root: background(),
  });
  t.after(() => restarted.close());
  s.exchange.listen((e) => restarted.observe(e));
  assert.deepEqual(await restarted.load(background()), { live: 2, dead: 0, removed: 0 });
  const tasks = new TasksLocal(s.metadata.containers, restarted);
  const get = (id: string) => tasks.get(ctx, { containerId: id, execId: "" } as never);
  assert.equal((await get("app")).process?.status, Status.RUNNING);

  // The sandbox's task API goes away (its sandboxer died): the task is kept, unreachable.
  s.events.length = 0;
  const waiting = tasks.wait(ctx, { containerId: "app", execId: "" } as never);
  await s.fake.server.close();
  await waitUntil(async () => (await get("app")).process?.status === Status.UNKNOWN, {
    timeoutMs: 15_000,
    what: "reported UNKNOWN while unreachable",
  });
  assert.deepEqual(
    s.events.map((e) => e.topic),
    [],
    "no exit invented",
  );
  // Meanwhile "app" exits and "gone" disappears from the sandboxer.
  exit(s.fake.procs.get("app")!, 3);
  s.fake.procs.delete("gone");

  // The sandboxer comes back on the same socket: Wait returns, the exit is published once.
  const back = fakeTaskServer(s.fake.procs);
  await back.server.listen(s.socket);
  t.after(() => back.server.close());
  assert.equal((await waiting).exitStatus, 3, "the Wait in flight was re-armed");
  await waitUntil(() => s.events.filter((e) => e.topic === "/tasks/delete").length > 0, {
    timeoutMs: 15_000,
    what: "the task the sandboxer lost is buried",
  });
  assert.deepEqual(s.events.map((e) => e.topic).sort(), [
    "/tasks/delete",
    "/tasks/exit",
    "/tasks/exit",
  ]);
  assert.equal((await get("app")).process?.status, Status.STOPPED);
  assert.equal(
    (await tasks.wait(ctx, { containerId: "gone", execId: "" } as never)).exitStatus,
    255,
  );
  assert.equal((await tasks.delete(ctx, { containerId: "app" } as never)).exitStatus, 3);

  // The lost task's exit survives another restart (exit.json), until the task is deleted.
  await restarted.close();
  const again = new TaskManager({
    dirs: s.dirs,
    shims: s.shims,
    publisher: s.exchange,
    containerExists: (c, id) => s.metadata.containers.has(c, id),
    root: background(),
  });
  t.after(() => again.close());
  assert.deepEqual(await again.load(background()), { live: 0, dead: 1, removed: 0 });
  const local = new TasksLocal(s.metadata.containers, again);
  assert.equal((await local.delete(ctx, { containerId: "gone" } as never)).exitStatus, 255);
  await assert.rejects(local.get(ctx, { containerId: "gone", execId: "" } as never), isNotFound);
  await again.settle();
  assert.deepEqual(await readdir(join(s.dirs.state, "k8s")), []);
});
