// `sbx run` against a real sandboxd and sbx-sandboxer (root): exit status,
// --rm cleanup (no sandbox, container, task, mount, cgroup or process left),
// stdin, signals, the default busybox rootfs, a wrong id.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { assertNoLeaks, snapshotLeaks, waitUntil } from "@sandboxd/testing";
import { assertEmpty, setupSbx } from "./harness.js";

/** sbx's FIFO sets (the SDK's default directory as root) for container `id`. */
async function fifoSets(id: string): Promise<string[]> {
  const names = await readdir("/run/sandboxd/fifo").catch(() => []);
  return names.filter((n) => n.startsWith(`${id}-`));
}

test("sbx run --rm: the exit status is sbx's, and nothing is left", async (t) => {
  const { sbx, client, daemon } = await setupSbx(t);
  // The busybox rootfs is prepared on first use; that one stays (it is a cache).
  assert.equal((await sbx(["run", "--rm", "warm", "true"])).status, 0);
  const before = await snapshotLeaks(daemon.leakScope);
  const r = await sbx(["run", "--rm", "x", "sh", "-c", "echo out; echo err >&2; exit 3"]);
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stdout, "out\n");
  assert.equal(r.stderr, "err\n");
  await assertEmpty(client);
  assert.deepEqual(await fifoSets("x"), [], "no FIFOs left");
  await assertNoLeaks(before, daemon.leakScope);
});

test("sbx run without --rm keeps the stopped container and its own sandbox", async (t) => {
  const { sbx, json, client } = await setupSbx(t);
  const r = await sbx(["run", "keep", "sh", "-c", "exit 5"]);
  assert.equal(r.status, 5, r.stderr);
  const [sandbox] = (await json(["sandbox", "ls"])) as { id: string; containers: string[] }[];
  assert.deepEqual(
    { id: sandbox!.id, containers: sandbox!.containers },
    {
      id: "keep",
      containers: ["keep"],
    },
  );
  assert.deepEqual(
    (await client.containers()).map((c) => c.id),
    ["keep"],
  );
  assert.deepEqual(await client.tasks(), [], "the task is deleted once it exited");
  assert.equal((await sbx(["sandbox", "rm", "-f", "keep"])).status, 0);
  await assertEmpty(client);
});

test("stdin reaches the container; the busybox rootfs is read-only", async (t) => {
  const { sbx } = await setupSbx(t);
  const r = await sbx(["run", "--rm", "cat", "cat"], "piped\n");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "piped\n");
  const w = await sbx(["run", "--rm", "w", "touch", "/file"]);
  assert.notEqual(w.status, 0);
  assert.match(w.stderr, /Read-only file system/);
});

/** Waits until the namespace's only task runs. */
async function taskRunning(json: (args: string[]) => Promise<unknown>): Promise<void> {
  await waitUntil(
    async () => ((await json(["task", "ls"])) as { status: string }[])[0]?.status === "running",
    { what: "the task to run", timeoutMs: 30_000 },
  );
}

test("SIGTERM to sbx run reaches the container; sbx exits with its status", async (t) => {
  const { start, json, client } = await setupSbx(t);
  // The container's PID 1 handles SIGTERM (a PID 1 gets only the signals it handles).
  const { child, done } = start([
    "run",
    "--rm",
    "trapper",
    "sh",
    "-c",
    "trap 'echo got TERM; exit 143' TERM; sleep 1000 & wait",
  ]);
  await taskRunning(json);
  child.kill("SIGTERM");
  const r = await done;
  assert.equal(r.status, 143, r.stderr);
  assert.equal(r.stdout, "got TERM\n");
  await assertEmpty(client);
});

test("a second SIGTERM kills a container that ignores the first", async (t) => {
  const { start, json, client } = await setupSbx(t);
  // sleep as PID 1 has no handler: the kernel drops SIGTERM for it.
  const { child, done } = start(["run", "--rm", "sleeper", "sleep", "1000"]);
  await taskRunning(json);
  let exited = false;
  void done.then(() => (exited = true));
  // Signals sent back to back may merge into one; send until sbx is gone.
  await waitUntil(
    () => {
      if (!exited) child.kill("SIGTERM");
      return exited;
    },
    { what: "sbx to exit after SIGTERMs", timeoutMs: 30_000, intervalMs: 200 },
  );
  const r = await done;
  assert.equal(r.status, 137, r.stderr);
  await assertEmpty(client);
});

test("a wrong id says which", async (t) => {
  const { sbx } = await setupSbx(t);
  for (const [args, what] of [
    [["sandbox", "rm", "ghost"], 'sandbox "ghost"'],
    [["sandbox", "inspect", "ghost"], 'sandbox "ghost"'],
    [["run", "--rm", "--sandbox", "ghost", "c", "true"], 'sandbox "ghost"'],
    [["container", "rm", "ghost"], 'container "ghost"'],
    [["task", "kill", "ghost"], "ghost"],
  ] as const) {
    const r = await sbx([...args]);
    assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith(`sbx: ${what}`) || r.stderr.includes(what), r.stderr);
    assert.match(r.stderr, /not found/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});

test("SIGTERM as sbx run --rm creates the sandbox: exit 143, nothing left", async (t) => {
  const { start, client } = await setupSbx(t);
  // SIGTERM as soon as sandboxd publishes the sandbox's creation. Before the
  // container starts, sbx undoes what it made; after, the signal is forwarded
  // to a PID 1 that exits on it: the end must be the same.
  const stop = new AbortController();
  t.after(() => Promise.resolve(stop.abort()));
  const created = client.subscribe([`topic=="/sandboxes/create"`], { signal: stop.signal });
  const events = created[Symbol.asyncIterator]();
  // The subscription is set up asynchronously: make sandboxes until it reports one.
  const first = events.next();
  let live = false;
  void first.then(() => (live = true));
  for (let i = 0; !live && i < 100; i++) {
    await (await client.newSandbox(`probe${i}`)).shutdown();
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(live, "the event subscription is live");
  const next = events.next();
  const { child, done } = start([
    "run",
    "--rm",
    "early",
    "sh",
    "-c",
    "trap 'exit 143' TERM; echo started; sleep 1000 & wait",
  ]);
  for (;;) {
    const e = await next;
    assert.ok(!e.done);
    if (e.value.event?.$typeName === "containerd.events.SandboxCreate") break;
  }
  child.kill("SIGTERM");
  const r = await done;
  assert.equal(r.status, 143, r.stderr);
  await assertEmpty(client);
  assert.deepEqual(await fifoSets("early"), [], "no FIFOs left");
});
