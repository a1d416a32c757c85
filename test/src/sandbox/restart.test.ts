// sandboxd restarts (kill -9, SIGTERM) with sandboxes running in the test
// shim (`shim` controller) and in the proxy test peer: every sandbox's status
// is asked again and its exit monitor re-armed; tasks in them carry on; a
// sandbox whose shim or sandboxer cannot be reached is NOTREADY with the
// reason, never dropped, and comes back when its sandboxer does (backoff); a
// sandboxer no longer configured still leaves its sandboxes listed and
// removable.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isFailedPrecondition } from "@sandboxd/errdefs";
import { JsonTypeUrl, packJson } from "@sandboxd/api";
import { Status } from "@sandboxd/api/types/task/task_pb";
import {
  processAlive,
  requireRoot,
  startSandboxd,
  waitUntil,
  type AfterHook,
  type Sandboxd,
  type SandboxdOptions,
} from "@sandboxd/testing";
import { startProxyPeer, type ProxyPeer } from "./fixtures/proxy-peer.js";
import {
  clients,
  collectEvents,
  noProcessesMentioning,
  sandboxBundle,
  sandboxRecord,
  testBin,
  type Clients,
} from "./helpers.js";

const containerSpec = packJson(JsonTypeUrl.Spec, { ociVersion: "1.1.0", process: { args: ["x"] } });
const force = { metadata: { "sandboxd-force": "true" } };
const namespace = "restart";

interface World {
  peer: ProxyPeer;
  daemon: Sandboxd;
  /** Starts sandboxd again on the same root and state (after kill or terminate). */
  restart(options?: Omit<SandboxdOptions, "dir">): Promise<Sandboxd>;
  clients(t: AfterHook): Clients;
}

/** A test peer and a sandboxd that knows it as `peer`; everything removed after the test. */
async function world(t: AfterHook, options: Omit<SandboxdOptions, "dir"> = {}): Promise<World> {
  requireRoot();
  const dir = await mkdtemp(join(tmpdir(), "sbxd-restart-"));
  const peer = await startProxyPeer(join(dir, "peer.sock"), join(dir, "peer-task.sock"));
  const base = (o: Omit<SandboxdOptions, "dir">): SandboxdOptions => ({
    proxyPlugins: { peer: { address: peer.socket } },
    ...o,
    dir: join(dir, "d"),
    extraPath: [testBin],
  });
  const w: World = {
    peer,
    daemon: await startSandboxd(base(options)),
    async restart(o = options) {
      w.daemon = await startSandboxd(base(o));
      return w.daemon;
    },
    clients(tt) {
      const c = clients(w.daemon.address, namespace);
      tt.after(() => c.channel.close());
      return c;
    },
  };
  t.after(async () => {
    if (!peer.running) await peer.start();
    await w.daemon.stop();
    await peer.stop();
    await rm(dir, { recursive: true, force: true });
    await noProcessesMentioning(dir);
  });
  return w;
}

async function podWithTask(c: Clients, id: string, sandboxer: string): Promise<void> {
  await c.store.create({ sandbox: sandboxRecord(id, { sandboxer }) });
  await c.controller.start({ sandboxId: id });
  const cid = `${id}-app`;
  await c.containers.create({
    container: {
      id: cid,
      runtime: { name: "io.containerd.none.v1" },
      spec: containerSpec,
      sandbox: id,
    },
  });
  await c.tasks.create({ containerId: cid });
  await c.tasks.start({ containerId: cid });
}

const shimPid = async (w: World, id: string): Promise<number> =>
  Number(await readFile(join(sandboxBundle(w.daemon, namespace, id), "sbxtest.pid"), "utf8"));

for (const how of ["kill -9", "SIGTERM"] as const) {
  test(`after ${how}: status asked again, exit monitors re-armed, tasks carry on (shim and proxy sandboxes)`, async (t) => {
    const w = await world(t);
    let c = w.clients(t);
    await podWithTask(c, "viashim", "shim");
    await podWithTask(c, "viapeer", "peer");
    const before = await c.controller.status({ sandboxId: "viashim" });
    const pid = await shimPid(w, "viashim");

    if (how === "kill -9") await w.daemon.kill();
    else assert.equal(await w.daemon.terminate(), 0);
    assert.ok(await processAlive(pid), "the sandbox's shim outlives sandboxd");
    await w.restart();
    c = w.clients(t);
    const events = await collectEvents(t, c, [`namespace==${namespace}`]);

    for (const id of ["viashim", "viapeer"]) {
      const st = await c.controller.status({ sandboxId: id });
      assert.equal(st.state, "SANDBOX_READY", id);
      assert.match(st.address, /^ttrpc\+unix:\/\//, id);
      assert.equal(st.version, 3, id);
      const task = await c.tasks.get({ containerId: `${id}-app` });
      assert.equal(task.process?.status, Status.RUNNING, `${id}: task still running`);
    }
    assert.equal((await c.controller.status({ sandboxId: "viashim" })).address, before.address);
    assert.deepEqual(
      (await c.store.list({})).list.map((s) => s.sandboxId),
      ["viapeer", "viashim"],
    );

    // Exit monitors armed by the restart itself (no client Wait): the exits are published.
    w.peer.exitSandbox(namespace, "viapeer", 5);
    await c.controller.stop({ sandboxId: "viashim" });
    await waitUntil(() => events.of("/sandboxes/exit").length === 2, {
      what: "two /sandboxes/exit",
    });
    const exits = Object.fromEntries(
      events.of("/sandboxes/exit").map((e) => [e.sandboxId as string, e.exitStatus]),
    );
    assert.deepEqual(exits, { viapeer: 5, viashim: 0 });

    for (const id of ["viashim", "viapeer"]) {
      const waited = c.tasks.wait({ containerId: `${id}-app` });
      await c.tasks.kill({ containerId: `${id}-app`, signal: 9 });
      assert.equal((await waited).exitStatus, 137, `${id}: the task answers after the restart`);
      await c.tasks.delete({ containerId: `${id}-app` });
      await c.containers.delete({ id: `${id}-app` });
      await c.controller.shutdown({ sandboxId: id });
      await c.store.delete({ sandboxId: id });
    }
    await waitUntil(async () => !(await processAlive(pid)), { what: "the shim to exit" });
  });
}

test("unreachable across a restart: NOTREADY with the reason, never dropped; the sandboxer comes back and is found again", async (t) => {
  const w = await world(t);
  let c = w.clients(t);
  await podWithTask(c, "viapeer", "peer");
  await c.store.create({ sandbox: sandboxRecord("deadshim", { sandboxer: "shim" }) });
  await c.controller.start({ sandboxId: "deadshim" });
  const pid = await shimPid(w, "deadshim");

  await w.daemon.kill();
  await w.peer.stop();
  process.kill(pid, "SIGKILL");
  await waitUntil(async () => !(await processAlive(pid)), { what: "the shim to die" });
  await w.restart();
  c = w.clients(t);

  const peerDown = await c.controller.status({ sandboxId: "viapeer" });
  assert.equal(peerDown.state, "SANDBOX_NOTREADY");
  assert.match(peerDown.info.reason ?? "", /sandboxer "peer" at .* unreachable/);
  const shimDown = await c.controller.status({ sandboxId: "deadshim" });
  assert.equal(shimDown.state, "SANDBOX_NOTREADY");
  assert.match(shimDown.info.reason ?? "", /shim at .* unreachable/);
  assert.deepEqual(
    (await c.store.list({})).list.map((s) => s.sandboxId),
    ["deadshim", "viapeer"],
    "nothing dropped",
  );
  assert.deepEqual(
    (await c.tasks.list({})).tasks.map((x) => x.id),
    ["viapeer-app"],
    "the task is kept while its sandboxer is away",
  );
  assert.equal(
    (await c.tasks.get({ containerId: "viapeer-app" })).process?.status,
    Status.UNKNOWN,
    "its state is unknown while the task API cannot be reached",
  );

  await w.peer.start();
  await waitUntil(
    async () => (await c.controller.status({ sandboxId: "viapeer" })).state === "SANDBOX_READY",
    { what: "the peer found again", timeoutMs: 30_000 },
  );
  await waitUntil(
    async () =>
      (await c.tasks.get({ containerId: "viapeer-app" })).process?.status === Status.RUNNING,
    { what: "the task reconnected", timeoutMs: 30_000 },
  );
  assert.equal(
    (await c.controller.status({ sandboxId: "deadshim" })).state,
    "SANDBOX_NOTREADY",
    "a dead shim stays not ready",
  );

  await c.controller.shutdown({ sandboxId: "deadshim" }, force);
  await c.store.delete({ sandboxId: "deadshim" });
  await c.store.delete({ sandboxId: "viapeer" }, force);
  assert.deepEqual((await c.store.list({})).list, []);
  assert.equal(w.peer.procs.size, 0);
});

test("a sandboxer dropped from the config: its sandboxes stay listed, NOTREADY, and can be removed (forced)", async (t) => {
  const w = await world(t, { defaultSandboxer: "peer" });
  let c = w.clients(t);
  // No sandboxer in the record: the configured default (the peer) is used and recorded.
  await c.store.create({ sandbox: sandboxRecord("pod") });
  await c.controller.start({ sandboxId: "pod" });
  assert.equal((await c.store.get({ sandboxId: "pod" })).sandbox?.sandboxer, "peer");
  assert.ok(w.peer.sandboxes.has(`${namespace}/pod`));

  await w.daemon.terminate();
  await w.restart({ proxyPlugins: {} });
  c = w.clients(t);
  const st = await c.controller.status({ sandboxId: "pod" });
  assert.equal(st.state, "SANDBOX_NOTREADY");
  assert.match(st.info.reason ?? "", /sandboxer "peer" is not configured/);
  await assert.rejects(c.store.delete({ sandboxId: "pod" }), isFailedPrecondition);
  await c.store.delete({ sandboxId: "pod" }, force);
  assert.deepEqual((await c.store.list({})).list, []);
  w.peer.sandboxes.delete(`${namespace}/pod`);
});
