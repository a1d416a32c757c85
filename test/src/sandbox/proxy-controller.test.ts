// A proxy sandbox controller end to end: `[proxy_plugins.peer] type = "sandbox"`
// reached over gRPC containerd.services.sandbox.v1.Controller (the test peer,
// fixtures/proxy-peer.ts, in this process). Every request carries
// `sandboxer = "peer"` and the namespace header; Start/Status give the peer's
// task address, where the sandbox's containers' tasks go. A peer that goes
// away leaves its sandboxes NOTREADY with the reason (never dropped), tasks
// refused, and when it comes back sandboxd finds it again (backoff) and the
// tasks it kept running carry on.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  isAlreadyExists,
  isFailedPrecondition,
  isInvalidArgument,
  isNotFound,
} from "@sandboxd/errdefs";
import { JsonTypeUrl, packJson } from "@sandboxd/api";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { waitUntil } from "@sandboxd/testing";
import type { Sandboxd } from "../daemon/harness.js";
import { startProxyPeer, type ProxyPeer } from "./fixtures/proxy-peer.js";
import { clients, collectEvents, openSandboxd, sandboxRecord, type Clients } from "./helpers.js";

let daemon: Sandboxd;
let peer: ProxyPeer;
let close: () => Promise<void>;
let n = 0;
const force = { metadata: { "sandboxd-force": "true" } };
const containerSpec = packJson(JsonTypeUrl.Spec, { ociVersion: "1.1.0", process: { args: ["x"] } });

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), "sbx-peer-"));
  peer = await startProxyPeer(join(dir, "controller.sock"), join(dir, "task.sock"));
  const opened = await openSandboxd({ proxyPlugins: { peer: { address: peer.socket } } });
  daemon = opened.sandboxd;
  close = async () => {
    await opened.close();
    await peer.stop();
    await rm(dir, { recursive: true, force: true });
  };
});
after(() => close?.());

function ns(t: { after: (fn: () => unknown) => void }): { c: Clients; namespace: string } {
  const namespace = `proxy-${++n}`;
  const c = clients(daemon.address, namespace);
  t.after(() => c.channel.close());
  return { c, namespace };
}

const requestsOf = (namespace: string, id: string) =>
  peer.requests.filter((r) => r.namespace === namespace && r.sandboxId === id);

test("every Controller call goes to the peer with sandboxer and namespace; events; Start/Status give its task address", async (t) => {
  const { c, namespace } = ns(t);
  const events = await collectEvents(t, c, [`namespace==${namespace}`]);
  await c.store.create({
    sandbox: sandboxRecord("pod", { sandboxer: "peer", labels: { app: "web" } }),
  });
  await c.controller.create({
    sandboxId: "pod",
    sandboxer: "peer",
    netnsPath: "/var/run/netns/x",
    annotations: { a: "b" },
  });
  const s = await c.controller.start({ sandboxId: "pod", sandboxer: "peer" });
  assert.equal(s.address, `ttrpc+unix://${peer.taskSocket}`);
  assert.equal(s.version, 3);
  assert.equal(s.pid, process.pid);
  const st = await c.controller.status({ sandboxId: "pod", verbose: true });
  assert.equal(st.state, "SANDBOX_READY");
  assert.deepEqual(st.info, { peer: "proxy", verbose: "true" });
  assert.equal(st.address, s.address);
  assert.equal((await c.controller.platform({ sandboxId: "pod" })).platform?.os, "linux");
  assert.equal((await c.controller.metrics({ sandboxId: "pod" })).metrics?.id, "pod");
  await c.controller.update({
    sandboxId: "pod",
    sandbox: sandboxRecord("pod", { labels: { app: "db" } }),
    fields: ["labels.app"],
  });
  const waited = c.controller.wait({ sandboxId: "pod" });
  await c.controller.stop({ sandboxId: "pod", timeoutSecs: 1 });
  assert.equal((await waited).exitStatus, 0);
  await c.controller.shutdown({ sandboxId: "pod" });
  await c.store.delete({ sandboxId: "pod" });

  const seen = requestsOf(namespace, "pod");
  assert.ok(
    seen.every((r) => r.sandboxer === "peer" && r.namespace === namespace),
    JSON.stringify(seen),
  );
  const create = seen.find((r) => r.method === "Create");
  assert.deepEqual(create?.annotations, { a: "b" });
  assert.equal(create?.netnsPath, "/var/run/netns/x");
  assert.deepEqual(create?.labels, { app: "web" }, "the sandbox record goes with Create");
  assert.deepEqual(seen.find((r) => r.method === "Update")?.fields, ["labels.app"]);
  for (const m of ["Start", "Status", "Platform", "Metrics", "Stop", "Wait", "Shutdown"]) {
    assert.ok(
      seen.some((r) => r.method === m),
      `${m} reached the peer`,
    );
  }
  assert.equal(peer.sandboxes.has(`${namespace}/pod`), false);
  await waitUntil(() => events.topics().length >= 3, { what: "sandbox events" });
  assert.deepEqual(events.topics(), ["/sandboxes/create", "/sandboxes/start", "/sandboxes/exit"]);
});

test("the peer's errors come back as they are; a record's sandboxer picks the controller", async (t) => {
  const { c, namespace } = ns(t);
  await c.store.create({ sandbox: sandboxRecord("bad", { sandboxer: "peer" }) });
  await assert.rejects(
    c.controller.create({ sandboxId: "bad", annotations: { "sbxtest/fail-create": "full up" } }),
    (e: Error) => isFailedPrecondition(e) && e.message.includes("full up"),
  );
  await assert.rejects(
    c.controller.status({ sandboxId: "bad" }),
    (e: Error) => isNotFound(e) && /no controller created it/.test(e.message),
    "a failed create leaves no instance",
  );
  // The peer already has a sandbox of that name (made behind sandboxd's back).
  peer.sandboxes.set(`${namespace}/taken`, {
    state: "created",
    createdAt: Date.now(),
    exitStatus: 0,
    waiters: [],
  });
  await c.store.create({ sandbox: sandboxRecord("taken", { sandboxer: "peer" }) });
  await assert.rejects(c.controller.create({ sandboxId: "taken" }), isAlreadyExists);
  peer.sandboxes.delete(`${namespace}/taken`);
  await assert.rejects(
    c.controller.start({ sandboxId: "bad", sandboxer: "shim" }),
    (e: Error) => isInvalidArgument(e) && /belongs to sandboxer "peer"/.test(e.message),
  );
  assert.equal(requestsOf(namespace, "bad").length, 1, "the mismatch was refused before the peer");
  // Start alone (never created) goes to the record's sandboxer: Create, then Start.
  await c.store.create({ sandbox: sandboxRecord("lazy", { sandboxer: "peer" }) });
  await c.controller.start({ sandboxId: "lazy" });
  assert.deepEqual(
    requestsOf(namespace, "lazy")
      .map((r) => r.method)
      .slice(0, 2),
    ["Create", "Start"],
  );
  await c.controller.shutdown({ sandboxId: "lazy" });
  await assert.rejects(c.controller.wait({ sandboxId: "lazy" }), isNotFound);
  for (const id of ["bad", "taken", "lazy"]) await c.store.delete({ sandboxId: id });
});

test("tasks of a proxy sandbox go to its task API; an exit of the sandbox is published", async (t) => {
  const { c, namespace } = ns(t);
  const events = await collectEvents(t, c, [`namespace==${namespace}`]);
  await c.store.create({ sandbox: sandboxRecord("pod", { sandboxer: "peer" }) });
  await c.controller.start({ sandboxId: "pod" });
  await c.containers.create({
    container: {
      id: "app",
      runtime: { name: "io.containerd.none.v1" },
      spec: containerSpec,
      sandbox: "pod",
    },
  });
  await c.tasks.create({ containerId: "app" });
  await c.tasks.start({ containerId: "app" });
  assert.equal(peer.procs.get("app")?.status, Status.RUNNING, "the peer runs the task");
  const waited = c.tasks.wait({ containerId: "app" });
  await c.tasks.kill({ containerId: "app", signal: 15 });
  assert.equal((await waited).exitStatus, 143);
  await c.tasks.delete({ containerId: "app" });
  assert.equal(peer.procs.has("app"), false);
  await c.containers.delete({ id: "app" });

  peer.exitSandbox(namespace, "pod", 3);
  await waitUntil(() => events.of("/sandboxes/exit").length > 0, { what: "/sandboxes/exit" });
  assert.equal(events.of("/sandboxes/exit")[0]?.exitStatus, 3);
  assert.equal((await c.controller.wait({ sandboxId: "pod" })).exitStatus, 3);
  assert.equal((await c.controller.status({ sandboxId: "pod" })).state, "SANDBOX_NOTREADY");
  await c.controller.shutdown({ sandboxId: "pod" });
  await c.store.delete({ sandboxId: "pod" });
});

test("the peer goes away: NOTREADY with the reason, nothing dropped, tasks refused; it comes back: ready, tasks carry on", async (t) => {
  const { c, namespace } = ns(t);
  const events = await collectEvents(t, c, [`namespace==${namespace}`]);
  await c.store.create({ sandbox: sandboxRecord("pod", { sandboxer: "peer" }) });
  await c.controller.start({ sandboxId: "pod" });
  const container = (id: string) =>
    c.containers.create({
      container: {
        id,
        runtime: { name: "io.containerd.none.v1" },
        spec: containerSpec,
        sandbox: "pod",
      },
    });
  await container("app");
  await c.tasks.create({ containerId: "app" });
  await c.tasks.start({ containerId: "app" });
  const sandboxWait = c.controller.wait({ sandboxId: "pod" });
  const taskWait = c.tasks.wait({ containerId: "app" });

  await peer.stop();
  const down = await waitUntil(
    async () => {
      const st = await c.controller.status({ sandboxId: "pod" });
      return st.state === "SANDBOX_NOTREADY" ? st : undefined;
    },
    { what: "NOTREADY while the peer is down" },
  );
  assert.match(down.info.reason ?? "", /sandboxer "peer" at .* unreachable/);
  assert.equal(down.address, `ttrpc+unix://${peer.taskSocket}`, "the last known address is kept");
  assert.deepEqual(
    (await c.store.list({})).list.map((s) => s.sandboxId),
    ["pod"],
  );
  await container("late");
  await assert.rejects(
    c.tasks.create({ containerId: "late" }),
    (e: Error) =>
      isFailedPrecondition(e) &&
      /sandbox "pod" is not ready: SANDBOX_NOTREADY \(sandboxer "peer" at .* unreachable/.test(
        e.message,
      ),
  );
  await assert.rejects(c.controller.shutdown({ sandboxId: "pod" }), isFailedPrecondition);
  assert.deepEqual(events.of("/tasks/exit"), [], "the task is not declared dead");

  await peer.start();
  await waitUntil(
    async () => (await c.controller.status({ sandboxId: "pod" })).state === "SANDBOX_READY",
    { what: "READY once the peer is back", timeoutMs: 30_000 },
  );
  await waitUntil(
    async () =>
      (await c.tasks.get({ containerId: "app" }).catch(() => undefined))?.process?.status ===
      Status.RUNNING,
    { what: "the task answering again", timeoutMs: 30_000 },
  );
  await c.tasks.create({ containerId: "late" });
  await c.tasks.kill({ containerId: "app", signal: 9 });
  assert.equal((await taskWait).exitStatus, 137, "a Wait made before the outage returns");
  peer.exitSandbox(namespace, "pod", 0);
  assert.equal((await sandboxWait).exitStatus, 0, "the sandbox Wait was re-armed");

  await c.controller.shutdown({ sandboxId: "pod" }, force);
  assert.deepEqual((await c.containers.list({})).containers, []);
  assert.deepEqual((await c.tasks.list({})).tasks, []);
  await c.store.delete({ sandboxId: "pod" });
  assert.equal(peer.procs.size, 0, "the forced shutdown removed the peer's tasks too");
});

test("a forced shutdown while the peer is down leaves nothing in sandboxd", async (t) => {
  const { c, namespace } = ns(t);
  await c.store.create({ sandbox: sandboxRecord("pod", { sandboxer: "peer" }) });
  await c.controller.start({ sandboxId: "pod" });
  await c.containers.create({
    container: {
      id: "c1",
      runtime: { name: "io.containerd.none.v1" },
      spec: containerSpec,
      sandbox: "pod",
    },
  });
  await c.tasks.create({ containerId: "c1" });
  await c.tasks.start({ containerId: "c1" });
  await peer.stop();
  t.after(() => (peer.running ? undefined : peer.start()));
  await c.store.delete({ sandboxId: "pod" }, force);
  assert.deepEqual((await c.store.list({})).list, []);
  assert.deepEqual((await c.containers.list({})).containers, []);
  assert.deepEqual((await c.tasks.list({})).tasks, []);
  await peer.start();
  // The peer's own state for the sandbox is its business (it could not be told).
  peer.sandboxes.delete(`${namespace}/pod`);
  peer.procs.delete("c1");
});
