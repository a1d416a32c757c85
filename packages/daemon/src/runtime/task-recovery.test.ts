// Task recovery when the daemon was killed in the middle of things: a
// bootstrap.json cut short, a create that never reached the sandbox, a
// sandboxer that is down or too busy to answer while the daemon starts.
// The rule: a task is neither invented nor buried until its sandbox says
// which; an exit is published only for a task that existed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { background } from "@sandboxd/core";
import { isNotFound } from "@sandboxd/errdefs";
import { waitUntil } from "@sandboxd/testing";
import { Status } from "@sandboxd/api/types/task/task_pb";
import type { TasksLocal } from "../services/tasks/local.js";
import {
  createContainer,
  ctx,
  fakeTaskServer,
  restartedManager,
  stack,
  type Stack,
} from "./task-stack.fixture.js";

async function runningTask(s: Stack, id: string): Promise<void> {
  createContainer(s, id, "sb1");
  await s.tasksLocal.create(ctx, { containerId: id } as never);
  await s.tasksLocal.start(ctx, { containerId: id, execId: "" } as never);
}

function taskEvents(s: Stack): string[] {
  return s.events.map((e) => e.topic).filter((topic) => topic.startsWith("/tasks/"));
}

const getReq = (id: string) => ({ containerId: id, execId: "" }) as never;

/**
 * Recovery has dropped the task: its bundle is gone and Get no longer finds it. (Get alone
 * is no sign: it passes on the sandboxer's NotFound while recovery is still removing the
 * task; nor is the bundle alone: the task leaves the table just after.)
 */
async function dropped(s: Stack, local: TasksLocal, id: string): Promise<boolean> {
  if ((await readdir(join(s.dirs.state, "k8s"))).includes(id)) return false;
  return local.get(ctx, getReq(id)).then(() => false, isNotFound);
}

test("bundle files are replaced whole: no temp file is left beside them", async (t) => {
  const s = await stack(t);
  await runningTask(s, "app");
  const dir = join(s.dirs.state, "k8s", "app");
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.endsWith(".tmp")),
    [],
  );
  assert.match(await readFile(join(dir, "bootstrap.json"), "utf8"), /"address"/);
});

test("an empty bootstrap.json (daemon killed while rewriting it) still reaches the sandbox: the task is not buried", async (t) => {
  const s = await stack(t);
  await runningTask(s, "app");
  await s.tasks.close();
  await writeFile(join(s.dirs.state, "k8s", "app", "bootstrap.json"), "");
  s.events.length = 0;

  const { tasks, local } = restartedManager(s, t);
  assert.deepEqual(await tasks.load(background()), { live: 1, dead: 0, removed: 0 });
  assert.equal((await local.get(ctx, getReq("app"))).process?.status, Status.RUNNING);
  assert.deepEqual(taskEvents(s), [], "no exit invented for a running task");
});

test("a create that never reached the sandbox (no bootstrap.json) is removed, with no exit", async (t) => {
  const s = await stack(t);
  await runningTask(s, "app");
  await s.tasks.close();
  const dir = join(s.dirs.state, "k8s", "app");
  await rm(join(dir, "bootstrap.json"));
  s.fake.procs.delete("app");
  s.events.length = 0;

  const { tasks, local } = restartedManager(s, t);
  assert.deepEqual(await tasks.load(background()), { live: 0, dead: 0, removed: 1 });
  await assert.rejects(local.get(ctx, getReq("app")), isNotFound);
  assert.deepEqual(await readdir(join(s.dirs.state, "k8s")), [], "bundle removed");
  assert.deepEqual(taskEvents(s), []);
});

test("a sandboxer down at start: the task waits UNKNOWN; back without it, the task is removed with no exit", async (t) => {
  const s = await stack(t);
  await runningTask(s, "app");
  await runningTask(s, "kept");
  await s.tasks.close();
  await s.fake.server.close();
  s.fake.procs.delete("app"); // the sandboxer never finished creating it
  s.events.length = 0;

  const { tasks, local } = restartedManager(s, t);
  assert.deepEqual(await tasks.load(background()), { live: 2, dead: 0, removed: 0 });
  assert.equal((await local.get(ctx, getReq("app"))).process?.status, Status.UNKNOWN);

  const back = fakeTaskServer(s.fake.procs);
  await back.server.listen(s.socket);
  t.after(() => back.server.close());
  await waitUntil(() => dropped(s, local, "app"), {
    timeoutMs: 60_000,
    what: "the task the sandboxer never created is dropped",
  });
  await assert.rejects(local.get(ctx, getReq("app")), isNotFound);
  await waitUntil(
    async () => (await local.get(ctx, getReq("kept"))).process?.status === Status.RUNNING,
    { timeoutMs: 60_000, what: "the other task confirmed RUNNING" },
  );
  assert.deepEqual(await readdir(join(s.dirs.state, "k8s")), ["kept"]);
  assert.deepEqual(taskEvents(s), [], "no exit published for either");
});

test("a sandboxer too busy to answer at start: the task is asked again until it answers", async (t) => {
  const s = await stack(t);
  await runningTask(s, "app");
  await runningTask(s, "never");
  await s.tasks.close();
  s.fake.procs.delete("never");
  s.events.length = 0;
  let release!: () => void;
  s.fake.control.stateGate = new Promise<void>((resolve) => (release = resolve));

  const { tasks, local } = restartedManager(s, t, { stateTimeoutMs: 200 });
  assert.deepEqual(await tasks.load(background()), { live: 2, dead: 0, removed: 0 });
  assert.equal((await local.get(ctx, getReq("app"))).process?.status, Status.UNKNOWN);

  s.fake.control.stateGate = undefined;
  release();
  await waitUntil(
    async () => (await local.get(ctx, getReq("app"))).process?.status === Status.RUNNING,
    { timeoutMs: 60_000, what: "the task confirmed RUNNING once the sandboxer answers" },
  );
  await waitUntil(() => dropped(s, local, "never"), {
    timeoutMs: 60_000,
    what: "the task the sandboxer never created is dropped",
  });
  await assert.rejects(local.get(ctx, getReq("never")), isNotFound);
  assert.deepEqual(taskEvents(s), []);
});
