// The `shim` sandbox controller end to end, with the test shim
// (io.containerd.sbxtest.v1): the shim binary is started as for a task
// (bundle, config.json, options on stdin, TTRPC_ADDRESS...), its ttrpc
// Sandbox service is driven, Start/Status return its address; events; Start
// without Create; idempotent Stop/Shutdown; bad input; failed creates roll
// back; containers routed to the sandbox's task API; not-ready refusals;
// shutdown refused with containers unless forced, and forced leaves nothing.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  isAlreadyExists,
  isFailedPrecondition,
  isInvalidArgument,
  isNotFound,
} from "@sandboxd/errdefs";
import { JsonTypeUrl, packJson } from "@sandboxd/api";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { processAlive, waitUntil, type AfterHook } from "@sandboxd/testing";
import type { Sandboxd } from "../daemon/harness.js";
import {
  collectEvents,
  freshNamespace,
  sandboxBundle,
  readBootstrap,
  sandboxRecord,
  shimLog,
  openSandboxd,
  testShimFile,
  testRuntime,
  testShimOptions,
  testShimPid,
  type Clients,
} from "./helpers.js";

let daemon: Sandboxd;
let close: () => Promise<void>;
let n = 0;
const force = { metadata: { "sandboxd-force": "true" } };

before(async () => {
  const opened = await openSandboxd();
  daemon = opened.sandboxd;
  close = opened.close;
});
after(() => close?.());

const ns = (t: AfterHook): { c: Clients; namespace: string } =>
  freshNamespace(t, daemon.address, `shim-${++n}`);

const spec = packJson(JsonTypeUrl.Spec, { ociVersion: "1.1.0", hostname: "pod" });
const containerSpec = packJson(JsonTypeUrl.Spec, { ociVersion: "1.1.0", process: { args: ["x"] } });

test("create, start, status, platform, metrics, stop, wait, shutdown through the shim's Sandbox service", async (t) => {
  const { c, namespace } = ns(t);
  const events = await collectEvents(t, c, [`namespace==${namespace}`]);
  await c.store.create({
    sandbox: sandboxRecord("pod", {
      runtime: { name: testRuntime, options: testShimOptions({ exitStatus: 7 }) },
      spec,
      sandboxer: "shim",
    }),
  });
  await c.controller.create({
    sandboxId: "pod",
    sandboxer: "shim",
    netnsPath: "/var/run/netns/test",
    annotations: { "io.sandboxd.test": "yes" },
    rootfs: [{ type: "bind", source: "/tmp", target: "", options: ["ro"] }],
  });
  const bundle = sandboxBundle(daemon, namespace, "pod");
  assert.deepEqual(JSON.parse(await readFile(join(bundle, "config.json"), "utf8")), {
    ociVersion: "1.1.0",
    hostname: "pod",
  });
  assert.equal(
    (await readBootstrap(bundle)).version,
    3,
    "bootstrap.json records the shim's task API",
  );
  assert.match(
    await readFile(join(bundle, "shim-binary-path"), "utf8"),
    /containerd-shim-sbxtest-v1$/,
  );
  const log0 = await shimLog(daemon, namespace, "pod");
  const started = log0.find((e) => e.call === "start");
  const created = log0.find((e) => e.call === "CreateSandbox");
  assert.equal(started?.call, "start");
  const argv = started?.argv as string[];
  assert.equal(argv[argv.indexOf("-id") + 1], "pod");
  assert.equal(argv[argv.indexOf("-namespace") + 1], namespace);
  assert.equal(argv.at(-1), "start");
  assert.ok((started?.argv as string[]).includes(daemon.address), "-address is sandboxd's socket");
  assert.deepEqual(started?.env, {
    TTRPC_ADDRESS: daemon.ttrpcAddress,
    GRPC_ADDRESS: daemon.address,
    NAMESPACE: namespace,
    MAX_SHIM_VERSION: "2",
  });
  assert.deepEqual(started?.options, { exitStatus: 7 }, "runtime options on stdin");
  assert.deepEqual(created, {
    ...created,
    call: "CreateSandbox",
    sandboxId: "pod",
    bundlePath: bundle,
    netnsPath: "/var/run/netns/test",
    annotations: { "io.sandboxd.test": "yes" },
    rootfs: [{ type: "bind", source: "/tmp" }],
    namespace,
  });

  const s = await c.controller.start({ sandboxId: "pod" });
  assert.equal(s.sandboxId, "pod");
  assert.match(s.address, /^ttrpc\+unix:\/\/\/.+\.sock$/);
  assert.equal(s.version, 3);
  assert.equal(s.pid, testShimPid(bundle));
  assert.ok(s.createdAt && timestampMs(s.createdAt) > 0);

  const st = await c.controller.status({ sandboxId: "pod", verbose: true });
  assert.equal(st.state, "SANDBOX_READY");
  assert.equal(st.address, s.address);
  assert.equal(st.version, 3);
  assert.equal(st.info.verbose, "true");
  assert.equal((await c.controller.platform({ sandboxId: "pod" })).platform?.os, "linux");
  assert.equal((await c.controller.metrics({ sandboxId: "pod" })).metrics?.id, "pod");
  await c.controller.update({
    sandboxId: "pod",
    sandbox: sandboxRecord("pod"),
    fields: ["labels"],
  });

  const waited = c.controller.wait({ sandboxId: "pod" });
  await c.controller.stop({ sandboxId: "pod", timeoutSecs: 3 });
  const exit = await waited;
  assert.equal(exit.exitStatus, 7);
  assert.equal((await c.controller.wait({ sandboxId: "pod" })).exitStatus, 7, "Wait again");
  assert.equal((await c.controller.status({ sandboxId: "pod" })).state, "SANDBOX_NOTREADY");
  const log = await shimLog(daemon, namespace, "pod");
  assert.deepEqual(log.find((e) => e.call === "StopSandbox")?.timeoutSecs, 3);

  const pid = testShimPid(bundle);
  await c.controller.shutdown({ sandboxId: "pod" });
  assert.equal(existsSync(bundle), false, "bundle removed");
  await waitUntil(async () => !(await processAlive(pid)), { what: "the shim to exit" });
  await c.store.delete({ sandboxId: "pod" });

  await waitUntil(() => events.topics().length >= 3, { what: "sandbox events" });
  assert.deepEqual(events.topics(), ["/sandboxes/create", "/sandboxes/start", "/sandboxes/exit"]);
  assert.equal(events.of("/sandboxes/exit")[0]?.exitStatus, 7);
  assert.equal(events.of("/sandboxes/create")[0]?.sandboxId, "pod");
});

test("Start of a sandbox never created creates it first; Stop and Shutdown are idempotent", async (t) => {
  const { c, namespace } = ns(t);
  const events = await collectEvents(t, c, [`namespace==${namespace}`]);
  await c.store.create({ sandbox: sandboxRecord("lazy") });
  await c.controller.stop({ sandboxId: "lazy" }, {});
  await c.controller.shutdown({ sandboxId: "lazy" });
  await assert.rejects(
    c.controller.status({ sandboxId: "lazy" }),
    (e: Error) => isNotFound(e) && /no controller created it/.test(e.message),
    "a Store row no controller created is NotFound to Status",
  );

  const s = await c.controller.start({ sandboxId: "lazy" });
  assert.equal(s.version, 3);
  assert.equal(
    (await c.store.get({ sandboxId: "lazy" })).sandbox?.sandboxer,
    "shim",
    "default sandboxer recorded",
  );
  assert.equal((await c.controller.status({ sandboxId: "lazy" })).state, "SANDBOX_READY");
  await c.controller.stop({ sandboxId: "lazy" });
  await c.controller.stop({ sandboxId: "lazy" });
  await c.controller.shutdown({ sandboxId: "lazy" });
  await c.controller.shutdown({ sandboxId: "lazy" });
  await c.controller.stop({ sandboxId: "lazy" });
  await c.store.delete({ sandboxId: "lazy" });
  await c.controller.shutdown({ sandboxId: "lazy" }, {});
  await waitUntil(() => events.topics().length >= 2, { what: "sandbox events" });
  assert.deepEqual(events.topics().slice(0, 2), ["/sandboxes/create", "/sandboxes/start"]);
});

test("bad input: unknown or mismatched sandboxer, unknown or empty runtime, unknown sandbox, duplicate create", async (t) => {
  const { c, namespace } = ns(t);
  await c.store.create({ sandbox: sandboxRecord("a") });
  await assert.rejects(
    c.controller.create({ sandboxId: "a", sandboxer: "nope" }),
    (e: Error) =>
      isNotFound(e) && e.message.includes('sandboxer "nope"') && e.message.includes('"shim"'),
  );
  await assert.rejects(
    c.controller.start({ sandboxId: "a", sandboxer: "nope" }),
    (e: Error) => isNotFound(e) && e.message.includes('sandboxer "nope"'),
  );
  await c.store.create({ sandbox: sandboxRecord("b", { sandboxer: "shim" }) });
  await assert.rejects(
    c.controller.create({ sandboxId: "b", sandboxer: "other" }),
    (e: Error) =>
      isInvalidArgument(e) && /belongs to sandboxer "shim", not "other"/.test(e.message),
  );
  await c.store.create({
    sandbox: sandboxRecord("norun", { runtime: { name: "io.containerd.missing.v1" } }),
  });
  await assert.rejects(
    c.controller.create({ sandboxId: "norun" }),
    (e: Error) => isNotFound(e) && e.message.includes("containerd-shim-missing-v1"),
  );
  await c.store.create({ sandbox: sandboxRecord("empty", { runtime: { name: "" } }) });
  await assert.rejects(
    c.controller.start({ sandboxId: "empty" }),
    (e: Error) => isInvalidArgument(e) && /runtime name must be set/.test(e.message),
  );
  for (const call of [
    () => c.controller.create({ sandboxId: "ghost" }),
    () => c.controller.start({ sandboxId: "ghost" }),
    () => c.controller.status({ sandboxId: "ghost" }),
    () => c.controller.wait({ sandboxId: "a" }),
    () => c.controller.platform({ sandboxId: "a" }),
    () => c.controller.metrics({ sandboxId: "a" }),
  ]) {
    await assert.rejects(call(), isNotFound);
  }
  await assert.rejects(c.controller.start({ sandboxId: "../x" }), isInvalidArgument);
  await assert.rejects(c.controller.update({ sandboxId: "a" }), isInvalidArgument);
  await c.controller.create({ sandboxId: "a" });
  await assert.rejects(c.controller.create({ sandboxId: "a" }), isAlreadyExists);
  const dir = join(daemon.state, "io.containerd.sandbox.controller.v1.shim", namespace);
  assert.deepEqual(await readdir(dir), ["a"], "failed creates left no bundle");
  await c.controller.shutdown({ sandboxId: "a" });
});

test("a failed CreateSandbox is rolled back: ShutdownSandbox, the binary's delete, no bundle, no instance", async (t) => {
  const { c, namespace } = ns(t);
  const events = await collectEvents(t, c, [`namespace==${namespace}`]);
  await c.store.create({
    sandbox: sandboxRecord("bad", {
      runtime: { name: testRuntime, options: testShimOptions({ failCreate: "no room for pods" }) },
    }),
  });
  const bundle = sandboxBundle(daemon, namespace, "bad");
  await assert.rejects(
    c.controller.create({ sandboxId: "bad" }),
    (e: Error) => isFailedPrecondition(e) && e.message.includes("no room for pods"),
  );
  assert.equal(existsSync(bundle), false);
  assert.deepEqual(
    (await shimLog(daemon, namespace, "bad")).map((e) => e.call).filter((x) => x !== "serve"),
    ["start", "CreateSandbox", "ShutdownSandbox", "delete"],
  );
  assert.equal(
    existsSync(testShimFile(daemon, namespace, "bad", "sock")),
    false,
    "the shim's server is gone",
  );
  await assert.rejects(
    c.controller.status({ sandboxId: "bad" }),
    (e: Error) => isNotFound(e) && /no controller created it/.test(e.message),
  );
  await c.store.delete({ sandboxId: "bad" });
  assert.deepEqual(events.topics(), [], "no /sandboxes/create for a failed create");
});

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
  const taskDir = join(daemon.state, "io.containerd.runtime.v2.task", namespace);
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
  const bundle = sandboxBundle(daemon, namespace, "pod");
  const log = await shimLog(daemon, namespace, "pod");
  assert.equal(
    log.filter((e) => e.call === "start").length,
    1,
    "no shim started for the sandbox's container",
  );
  assert.deepEqual(await shimLog(daemon, namespace, "app"), [], "nor under the container's id");
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
  const bundle = sandboxBundle(daemon, namespace, "pod");
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
  const bundle3 = sandboxBundle(daemon, namespace, "plain3");
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
  const taskBundle = join(daemon.state, "io.containerd.runtime.v2.task", namespace, "v2c");
  const own = await shimLog(daemon, namespace, "v2c");
  assert.equal(own[0]?.call, "start", "the container's own shim was started");
  assert.equal(existsSync(join(taskBundle, "sandbox")), false);
  await c.controller.shutdown({ sandboxId: "plain2" }, force);
  await c.controller.shutdown({ sandboxId: "plain3" });
});
