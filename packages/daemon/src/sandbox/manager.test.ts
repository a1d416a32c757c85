// SandboxManager's policy without root: a controller in memory, metadata in
// ':memory:'. The per-sandbox lock (concurrent Start/Stop/Shutdown/Status on
// one id), Status of a row no controller created, recovery of interrupted
// creates after a restart.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { background, withNamespace, type Ctx } from "@sandboxd/core";
import { isNotFound, kindOf } from "@sandboxd/errdefs";
import { Exchange } from "../events/exchange.js";
import { openMetadata, type Metadata } from "../metadata/metadata.js";
import { InstanceState } from "../metadata/types.js";
import { waitUntil } from "@sandboxd/testing";
import { FakeController } from "./fake-controller.test-util.js";
import { SandboxManager } from "./manager.js";

const NS = "unit";
const ctx: Ctx = withNamespace(background(), NS);

function setup(
  t: TestContext,
  fake = new FakeController(),
): { m: Metadata; fake: FakeController; manager: () => SandboxManager } {
  const m = openMetadata(":memory:");
  const made: SandboxManager[] = [];
  t.after(async () => {
    for (const s of made) await s.close();
    m.db.close();
  });
  const manager = (): SandboxManager => {
    const s = new SandboxManager({
      store: m.sandboxes,
      containers: m.containers,
      tasks: { has: () => false, remove: () => Promise.resolve(), settle: () => Promise.resolve() },
      publisher: new Exchange(),
      controllers: [fake],
      defaultSandboxer: fake.name,
      root: background(),
    });
    made.push(s);
    return s;
  };
  return { m, fake, manager };
}

function row(m: Metadata, id: string): void {
  m.sandboxes.create(ctx, {
    id,
    runtime: { name: "io.containerd.runc.v2" },
    labels: {},
    extensions: {},
    sandboxer: "",
  });
}

/** The instance row and the controller agree: both have the sandbox or neither. */
function assertAgree(m: Metadata, fake: FakeController, id: string, when: string): void {
  const instance = m.sandboxes.instance(ctx, id);
  assert.equal(
    instance !== undefined,
    fake.has(NS, id),
    `${when}: instance row ${JSON.stringify(instance?.state)} vs controller ${fake.has(NS, id)}`,
  );
}

test("Start then Shutdown issued together: the shutdown wins, no instance row is written back", async (t) => {
  const { m, fake, manager } = setup(t);
  const s = manager();
  row(m, "pod");
  for (let i = 0; i < 20; i++) {
    await Promise.all([s.start(ctx, "pod", ""), s.shutdown(ctx, "pod", "", false)]);
    assert.equal(m.sandboxes.instance(ctx, "pod"), undefined, `round ${i}: row written back`);
    assert.equal(fake.has(NS, "pod"), false, `round ${i}: controller still has it`);
  }
  assert.equal(fake.maxInFlight, 1, "controller calls on one sandbox overlapped");
});

test("concurrent Create/Start/Stop/Shutdown/Status on one id: one controller call at a time, row and controller agree, Status is a state or NotFound", async (t) => {
  const { m, fake, manager } = setup(t);
  const s = manager();
  row(m, "pod");
  row(m, "other");
  const ops = [
    () => s.create(ctx, "pod", "", { rootfs: [], netnsPath: "", annotations: {} }),
    () => s.start(ctx, "pod", ""),
    () => s.stop(ctx, "pod", "", 0),
    () => s.shutdown(ctx, "pod", "", false),
    () => s.status(ctx, "pod", "", false),
    () => s.start(ctx, "other", ""),
    () => s.shutdown(ctx, "other", "", false),
  ];
  for (let round = 0; round < 30; round++) {
    const picked = Array.from({ length: 8 }, () => ops[Math.floor(Math.random() * ops.length)]!);
    const results = await Promise.allSettled(picked.map((op) => op()));
    for (const r of results) {
      if (r.status === "fulfilled") continue;
      // Create of an existing instance is AlreadyExists; a Status of none is NotFound.
      assert.match(String(kindOf(r.reason)), /already exists|not found/, String(r.reason));
    }
    assertAgree(m, fake, "pod", `round ${round}`);
    assertAgree(m, fake, "other", `round ${round}`);
    const st = await s.status(ctx, "pod", "", false).catch((e: unknown) => e);
    if (m.sandboxes.instance(ctx, "pod")) assert.ok(!(st instanceof Error), String(st));
    else assert.ok(isNotFound(st), `round ${round}: status of no instance: ${String(st)}`);
  }
  assert.equal(fake.maxInFlight, 1, "controller calls on one sandbox overlapped");
});

test("Start answers before its exit monitor's Wait is asked; a Wait meanwhile shares the monitor", async (t) => {
  const { m, fake, manager } = setup(t, new FakeController("fake", 0));
  const s = manager();
  row(m, "pod");
  await s.start(ctx, "pod", "");
  assert.equal(fake.waits, 0, "no controller Wait on Start's path");
  const waiting = s.wait(ctx, "pod", "");
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(fake.waits, 1, "one controller Wait: the monitor, shared");
  await s.shutdown(ctx, "pod", "", false);
  await waiting.catch(() => undefined); // the exit, or the monitor's end with the instance
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(fake.waits, 1, "none after the shutdown");
});

test("Status of a Store row no controller created is NotFound; Start creates it; Shutdown leaves the row", async (t) => {
  const { m, manager } = setup(t);
  const s = manager();
  row(m, "lazy");
  await assert.rejects(
    s.status(ctx, "lazy", "", false),
    (e: Error) => isNotFound(e) && /no controller created it/.test(e.message),
  );
  await s.start(ctx, "lazy", "");
  assert.equal((await s.status(ctx, "lazy", "", false)).state, "SANDBOX_READY");
  await s.shutdown(ctx, "lazy", "", false);
  assert.ok(m.sandboxes.find(ctx, "lazy"), "the Store row stays");
  await assert.rejects(s.status(ctx, "lazy", "", false), (e: Error) => isNotFound(e));
  await assert.rejects(s.status(ctx, "nosuch", "", false), (e: Error) => isNotFound(e));
});

test("restart: interrupted creates are undone (in the controller or not), started ones kept, orphans shut down; a failed undo is finished by the next Start", async (t) => {
  const { m, fake, manager } = setup(t);
  for (const id of ["made", "never", "running", "stuck"]) row(m, id);
  // A crash after the controller made it, and one before the call reached it.
  m.sandboxes.putInstance(ctx, "made", { sandboxer: fake.name, state: InstanceState.Creating });
  fake.put(NS, "made", "created");
  m.sandboxes.putInstance(ctx, "never", { sandboxer: fake.name, state: InstanceState.Creating });
  m.sandboxes.putInstance(ctx, "running", { sandboxer: fake.name, state: InstanceState.Started });
  fake.put(NS, "running", "ready");
  // The undo of this one fails (peer down): the row stays `creating`.
  m.sandboxes.putInstance(ctx, "stuck", { sandboxer: fake.name, state: InstanceState.Creating });
  fake.put(NS, "stuck", "created");
  fake.unreachable.add("stuck");
  fake.put(NS, "orphan", "ready");

  const s = manager();
  const loaded = await s.load(background());
  // A Start right after the restart waits for the undo of its sandbox (the lock).
  const restarted = s.start(ctx, "made", "");
  await loaded.settled;
  assert.deepEqual(
    { sandboxes: loaded.sandboxes, undone: loaded.undone },
    { sandboxes: 1, undone: 3 },
  );
  await restarted;
  assert.equal((await s.status(ctx, "made", "", false)).state, "SANDBOX_READY");
  assert.equal(m.sandboxes.instance(ctx, "never"), undefined);
  assert.equal(fake.has(NS, "never"), false);
  await assert.rejects(s.status(ctx, "never", "", false), (e: Error) => isNotFound(e));
  assert.equal((await s.status(ctx, "running", "", false)).state, "SANDBOX_READY");
  assert.equal(fake.has(NS, "orphan"), false, "a sandbox with no instance row is shut down");

  assert.equal(m.sandboxes.instance(ctx, "stuck")?.state, InstanceState.Creating);
  // Status of a `creating` row the controller knows: its answer (created, not ready).
  assert.equal((await s.status(ctx, "stuck", "", false)).state, "SANDBOX_NOTREADY");
  fake.unreachable.delete("stuck");
  await s.start(ctx, "stuck", "");
  assert.equal(m.sandboxes.instance(ctx, "stuck")?.state, InstanceState.Started);
  assert.ok(
    fake.calls.indexOf("shutdown stuck") < fake.calls.lastIndexOf("create stuck"),
    "the leftover was shut down before the new create",
  );
  assert.equal(fake.maxInFlight, 1);
});

test("a create whose answer was lost is shut down in the background once the sandboxer answers", async (t) => {
  const { m, fake, manager } = setup(t);
  const s = manager();
  row(m, "lost");
  fake.loseCreateAnswer.add("lost");
  fake.unreachable.add("lost");
  await assert.rejects(
    s.create(ctx, "lost", "", noOptions),
    (e: Error) => kindOf(e) === "unavailable",
  );
  assert.equal(
    m.sandboxes.instance(ctx, "lost"),
    undefined,
    "no instance row: the client may delete",
  );
  assert.equal(fake.has(NS, "lost"), true, "the sandboxer made it all the same");
  fake.unreachable.delete("lost");
  await waitUntil(() => !fake.has(NS, "lost"), {
    timeoutMs: 30_000,
    what: "the lost create to be shut down",
  });

  // A new create of the id before the undo runs keeps its sandbox.
  row(m, "again");
  fake.loseCreateAnswer.add("again");
  fake.unreachable.add("again");
  await assert.rejects(
    s.create(ctx, "again", "", noOptions),
    (e: Error) => kindOf(e) === "unavailable",
  );
  fake.loseCreateAnswer.delete("again");
  fake.sandboxes.delete(`${NS}/again`);
  await s.create(ctx, "again", "", noOptions);
  fake.unreachable.delete("again");
  await s.close();
  assert.equal(fake.has(NS, "again"), true);
  assert.equal(m.sandboxes.instance(ctx, "again")?.state, InstanceState.Created);
});

const noOptions = { rootfs: [], netnsPath: "", annotations: {} };
