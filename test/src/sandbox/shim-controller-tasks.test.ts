// Containers in a `shim` controller's sandbox, with the test shim
// (io.containerd.sbxtest.v1): tasks routed to the sandbox's task API (or a
// shim per container when it serves only task v2); not-ready refusals;
// shutdown refused with containers unless forced, and forced leaves nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { isFailedPrecondition, isNotFound } from "@sandboxd/errdefs";
import { JsonTypeUrl, packJson } from "@sandboxd/api";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { processAlive, waitUntil } from "@sandboxd/testing";
import {
  collectEvents,
  sandboxBundle,
  sandboxdForFile,
  readBootstrap,
  sandboxRecord,
  shimLog,
  testRuntime,
  testShimOptions,
  testShimPid,
} from "./helpers.js";

const file = sandboxdForFile("shim-tasks");
const { ns } = file;
const force = { metadata: { "sandboxd-force": "true" } };
const containerSpec = packJson(JsonTypeUrl.Spec, { ociVersion: "1.1.0", process: { args: ["x"] } });

test("containers in a shim sandbox: tasks routed to its task API; not-ready refused; shutdown needs force", async (t) => {
  const { c, namespace } = ns(t);
  const events = await collectEvents(t, c, [`namespace==${namespace}`]);
  await c.store.create({ sandbox: sandboxRecord("pod") });
  const container = (id: string, sandbox = "pod") =>
    c.containers.create({
      container: { id, runtime: { name: testRuntime }, spec: containerSpec, sandbox },
    });
  await container("orphan", "nowhere");
  await assert.rejects(
    c.tasks.create({ containerId: "orphan" }),
    (e: Error) => isNotFound(e) && e.message.includes('sandbox "nowhere"'),
  );
  await container("app");
  await assert.rejects(
    c.tasks.create({ containerId: "app" }),
    (e: Error) =>
      isFailedPrecondition(e) && /sandbox "pod" is not ready: it was never started/.test(e.message),
  );
  await c.controller.create({ sandboxId: "pod" });
  await assert.rejects(
    c.tasks.create({ containerId: "app" }),
    (e: Error) =>
      isFailedPrecondition(e) &&
      /sandbox "pod" is not ready: created but not started/.test(e.message),
  );
  const taskDir = join(file.daemon.state, "io.containerd.runtime.v2.task", namespace);
  assert.deepEqual(await readdir(taskDir).catch(() => []), [], "refusals made no bundle");

  const started = await c.controller.start({ sandboxId: "pod" });
  const created = await c.tasks.create({ containerId: "app" });
  assert.equal(created.pid, 4242);
  await c.tasks.start({ containerId: "app" });
  assert.equal((await c.tasks.get({ containerId: "app" })).process?.status, Status.RUNNING);
  const taskBundle = join(taskDir, "app");
  assert.equal(await readFile(join(taskBundle, "sandbox"), "utf8"), "pod");
  const boot = await readBootstrap(taskBundle);
  assert.equal(`${boot.protocol}+${boot.address}`, started.address);
  const bundle = sandboxBundle(file.daemon, namespace, "pod");
  const log = await shimLog(file.daemon, namespace, "pod");
  assert.equal(
    log.filter((e) => e.call === "start").length,
    1,
    "no shim started for the sandbox's container",
  );
  assert.deepEqual(
    await shimLog(file.daemon, namespace, "app"),
    [],
    "nor under the container's id",
  );
  assert.equal(log.find((e) => e.call === "Task.Create")?.bundle, taskBundle);

  await assert.rejects(
    c.controller.shutdown({ sandboxId: "pod" }),
    (e: Error) =>
      isFailedPrecondition(e) &&
      e.message.includes('sandbox "pod" still has containers "app"') &&
      e.message.includes("sandboxd-force"),
  );
  await c.containers.delete({ id: "orphan" });
  await assert.rejects(c.store.delete({ sandboxId: "pod" }), isFailedPrecondition);

  await container("late");
  await c.controller.stop({ sandboxId: "pod" });
  await assert.rejects(
    c.tasks.create({ containerId: "late" }),
    (e: Error) =>
      isFailedPrecondition(e) && /sandbox "pod" is not ready: SANDBOX_NOTREADY/.test(e.message),
  );

  const pid = testShimPid(bundle);
  await c.controller.shutdown({ sandboxId: "pod" }, force);
  assert.deepEqual((await c.tasks.list({})).tasks, []);
  assert.deepEqual((await c.containers.list({})).containers, []);
  await waitUntil(async () => (await readdir(taskDir)).length === 0, {
    what: "task bundles removed",
  });
  assert.equal(existsSync(bundle), false);
  await waitUntil(async () => !(await processAlive(pid)), { what: "the shim to exit" });
  await c.store.delete({ sandboxId: "pod" });
  assert.deepEqual((await c.store.list({})).list, []);
  await waitUntil(() => events.topics().includes("/containers/delete"), {
    what: "container events",
  });
  assert.equal(
    events.of("/containers/delete").filter((e) => e.id === "app" || e.id === "late").length,
    2,
  );
});

test("Store.Delete with sandboxd-force shuts the sandbox down with everything in it", async (t) => {
  const { c, namespace } = ns(t);
  await c.store.create({ sandbox: sandboxRecord("pod") });
  await c.controller.start({ sandboxId: "pod" });
  await c.containers.create({
    container: { id: "c1", runtime: { name: testRuntime }, spec: containerSpec, sandbox: "pod" },
  });
  await c.tasks.create({ containerId: "c1" });
  await c.tasks.start({ containerId: "c1" });
  const bundle = sandboxBundle(file.daemon, namespace, "pod");
  await c.store.delete({ sandboxId: "pod" }, force);
  assert.deepEqual((await c.store.list({})).list, []);
  assert.deepEqual((await c.tasks.list({})).tasks, []);
  assert.deepEqual((await c.containers.list({})).containers, []);
  assert.equal(existsSync(bundle), false);
});

test("a shim that prints a bare address: its task API version is asked; a v2-only sandbox gets a shim per container", async (t) => {
  const { c, namespace } = ns(t);
  await c.store.create({
    sandbox: sandboxRecord("plain3", {
      runtime: { name: testRuntime, options: testShimOptions({ output: "plain" }) },
    }),
  });
  assert.equal((await c.controller.start({ sandboxId: "plain3" })).version, 3);
  const bundle3 = sandboxBundle(file.daemon, namespace, "plain3");
  assert.equal((await readBootstrap(bundle3)).version, 3);

  await c.store.create({
    sandbox: sandboxRecord("plain2", {
      runtime: { name: testRuntime, options: testShimOptions({ output: "plain", noTaskV3: true }) },
    }),
  });
  const s2 = await c.controller.start({ sandboxId: "plain2" });
  assert.equal(s2.version, 2);
  await c.containers.create({
    container: {
      id: "v2c",
      runtime: { name: testRuntime },
      spec: containerSpec,
      sandbox: "plain2",
    },
  });
  await c.tasks.create({ containerId: "v2c" });
  const taskBundle = join(file.daemon.state, "io.containerd.runtime.v2.task", namespace, "v2c");
  const own = await shimLog(file.daemon, namespace, "v2c");
  assert.equal(own[0]?.call, "start", "the container's own shim was started");
  assert.equal(existsSync(join(taskBundle, "sandbox")), false);
  await c.controller.shutdown({ sandboxId: "plain2" }, force);
  await c.controller.shutdown({ sandboxId: "plain3" });
});
