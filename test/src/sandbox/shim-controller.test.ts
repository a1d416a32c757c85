// The `shim` sandbox controller end to end, with the test shim
// (io.containerd.sbxtest.v1): the shim binary is started as for a task
// (bundle, config.json, options on stdin, TTRPC_ADDRESS...), its ttrpc
// Sandbox service is driven, Start/Status return its address; events; Start
// without Create; idempotent Stop/Shutdown; bad input; failed creates roll
// back. Containers in such a sandbox: shim-controller-tasks.test.ts.
import { test } from "node:test";
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
import { processAlive, waitUntil } from "@sandboxd/testing";
import {
  collectEvents,
  sandboxBundle,
  sandboxdForFile,
  readBootstrap,
  sandboxRecord,
  shimLog,
  testShimFile,
  testRuntime,
  testShimOptions,
  testShimPid,
} from "./helpers.js";

const file = sandboxdForFile("shim");
const { ns } = file;

const spec = packJson(JsonTypeUrl.Spec, { ociVersion: "1.1.0", hostname: "pod" });

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
  const bundle = sandboxBundle(file.daemon, namespace, "pod");
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
  const log0 = await shimLog(file.daemon, namespace, "pod");
  const started = log0.find((e) => e.call === "start");
  const created = log0.find((e) => e.call === "CreateSandbox");
  assert.equal(started?.call, "start");
  const argv = started?.argv as string[];
  assert.equal(argv[argv.indexOf("-id") + 1], "pod");
  assert.equal(argv[argv.indexOf("-namespace") + 1], namespace);
  assert.equal(argv.at(-1), "start");
  assert.ok(
    (started?.argv as string[]).includes(file.daemon.address),
    "-address is sandboxd's socket",
  );
  assert.deepEqual(started?.env, {
    TTRPC_ADDRESS: file.daemon.ttrpcAddress,
    GRPC_ADDRESS: file.daemon.address,
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
  const log = await shimLog(file.daemon, namespace, "pod");
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
  const dir = join(file.daemon.state, "io.containerd.sandbox.controller.v1.shim", namespace);
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
  const bundle = sandboxBundle(file.daemon, namespace, "bad");
  await assert.rejects(
    c.controller.create({ sandboxId: "bad" }),
    (e: Error) => isFailedPrecondition(e) && e.message.includes("no room for pods"),
  );
  assert.equal(existsSync(bundle), false);
  assert.deepEqual(
    (await shimLog(file.daemon, namespace, "bad")).map((e) => e.call).filter((x) => x !== "serve"),
    ["start", "CreateSandbox", "ShutdownSandbox", "delete"],
  );
  assert.equal(
    existsSync(testShimFile(file.daemon, namespace, "bad", "sock")),
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
