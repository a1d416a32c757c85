// The SDK's sandbox half against a real sandboxd and sbx-sandboxer (root): the
// Sandbox API path of containerd's Go client (NewSandbox = Store.Create +
// Controller.Create, then Start; LoadSandbox = Store.Get + Controller.Status;
// Shutdown + Store.Delete), namespaces, views and bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  isAlreadyExists,
  isInvalidArgument,
  isNotFound,
  isUnavailable,
  messageOf,
} from "@sandboxd/errdefs";
import { connect } from "./daemon.js";

test("newSandbox, start, status, ping, platform, metrics, loadSandbox, sandboxes", async (t) => {
  const { client } = await connect(t);
  const sandbox = await client.newSandbox("pod1", { labels: { app: "it" } });
  assert.equal(sandbox.id, "pod1");
  assert.equal(sandbox.info.runtime.name, "io.containerd.sbx.v1");
  // No sandboxer named: the record leaves it empty and sandboxd uses its default (shim).
  assert.equal(sandbox.sandboxer, "");
  assert.ok(sandbox.info.createdAt instanceof Date);
  await assert.rejects(sandbox.ping(), isUnavailable, "not ready before start");

  const instance = await sandbox.start();
  assert.equal(instance.sandboxId, "pod1");
  // sbx-sandboxer pods have no process of their own (no pause container): pid 0.
  assert.equal(typeof instance.pid, "number");
  assert.match(instance.address, /^ttrpc\+unix:\/\//);
  assert.ok(instance.version >= 3, `task API version ${instance.version}`);
  await sandbox.ping();
  const status = await sandbox.status({ verbose: true });
  assert.equal(status.sandboxId, "pod1");
  assert.equal(status.state, "SANDBOX_READY");
  assert.equal(status.pid, instance.pid);
  assert.equal(status.address, instance.address);
  assert.ok(status.createdAt instanceof Date);
  const platform = await sandbox.platform();
  assert.equal(platform.os, "linux");
  assert.notEqual(platform.architecture, "");
  const metrics = await sandbox.metrics();
  assert.notEqual(metrics.cgroup, "unknown", `metrics type ${metrics.raw?.typeUrl}`);
  assert.deepEqual(await sandbox.containers(), []);

  const loaded = await client.loadSandbox("pod1");
  assert.deepEqual(loaded.info.labels, { app: "it" });
  assert.equal(loaded.sandboxer, "shim", "sandboxd records the controller it chose");
  await loaded.ping();

  await client.newSandbox("pod1b", { labels: { app: "other" } });
  assert.deepEqual((await client.sandboxes()).map((s) => s.id).sort(), ["pod1", "pod1b"]);
  assert.deepEqual(
    (await client.sandboxes(["labels.app==it"])).map((s) => s.id),
    ["pod1"],
  );
  assert.deepEqual(
    (await client.sandboxes(["labels.app==other", "id==pod1"])).map((s) => s.id).sort(),
    ["pod1", "pod1b"],
    "filters are ORed",
  );
  await assert.rejects(client.sandboxes(["labels.app=="]), isInvalidArgument);

  await assert.rejects(client.newSandbox("pod1"), isAlreadyExists);
  await assert.rejects(client.loadSandbox("nope"), (err) => {
    assert.ok(isNotFound(err));
    assert.match(messageOf(err), /sandbox "nope"/);
    return true;
  });
  await (await client.loadSandbox("pod1b")).shutdown();
});

test("update labels; stop and wait give the exit; shutdown removes the record", async (t) => {
  const { client } = await connect(t);
  const sandbox = await client.newSandbox("pod2", { labels: { a: "1", b: "2" } });
  await sandbox.start();
  const info = await sandbox.update({ labels: { a: "", c: "3" } });
  assert.deepEqual(info.labels, { b: "2", c: "3" });
  assert.deepEqual((await sandbox.refresh()).labels, { b: "2", c: "3" });
  assert.ok(info.updatedAt instanceof Date && info.createdAt instanceof Date);

  const exited = sandbox.wait();
  await sandbox.stop({ timeoutMs: 2000 });
  const exit = await exited;
  assert.equal(typeof exit.exitStatus, "number");
  assert.ok(exit.exitedAt instanceof Date);
  assert.notEqual((await sandbox.status()).state, "SANDBOX_READY");
  await assert.rejects(sandbox.ping(), isUnavailable);
  // Stop and shutdown are idempotent.
  await sandbox.stop();
  await sandbox.shutdown();
  await assert.rejects(client.loadSandbox("pod2"), isNotFound);
  await sandbox.shutdown();
});

test("a failed Controller.Create leaves no Store record", async (t) => {
  const { client } = await connect(t);
  // No containerd-shim-nope-v1 on PATH: the shim controller cannot create it.
  await assert.rejects(client.newSandbox("broken", { runtime: { name: "io.containerd.nope.v1" } }));
  await assert.rejects(client.loadSandbox("broken"), isNotFound);
  await assert.rejects(client.newSandbox("broken2", { sandboxer: "no-such-sandboxer" }));
  await assert.rejects(client.loadSandbox("broken2"), isNotFound);
  assert.deepEqual(await client.sandboxes(), []);
});

test("namespaces and views: each call carries its view's namespace", async (t) => {
  const { client } = await connect(t);
  await client.namespaces.create("team-a", { owner: "me" });
  const labelled = await client.namespaces.setLabels("team-a", { env: "dev", owner: "" });
  assert.deepEqual(labelled.labels, { env: "dev" });
  assert.deepEqual((await client.namespaces.get("team-a")).labels, { env: "dev" });
  assert.ok((await client.namespaces.list()).some((n) => n.name === "team-a"));

  const teamA = client.withNamespace("team-a");
  assert.equal(teamA.namespace, "team-a");
  const sandbox = await teamA.newSandbox("shared-name");
  assert.deepEqual(await client.sandboxes(), [], "not seen from another namespace");
  assert.deepEqual(
    (await teamA.sandboxes()).map((s) => s.id),
    ["shared-name"],
  );
  // The same id in another namespace is another sandbox.
  const mine = await client.newSandbox("shared-name");
  await mine.shutdown();
  await sandbox.shutdown();
  assert.throws(() => client.withNamespace("bad name"), isInvalidArgument);

  await client.namespaces.delete("team-a");
  await assert.rejects(client.namespaces.delete("team-a"), isNotFound);
  const { version } = await client.version();
  assert.notEqual(version, "");
  assert.ok((await client.server()).pid > 0);
});
