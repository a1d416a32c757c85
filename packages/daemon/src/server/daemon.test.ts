// Reversible start-up and stop, without root: a daemon in process on temp
// dirs. A start that fails at its last step closes what it had started (the
// database can be opened again, no socket is left); a stop where one closer
// fails still runs every other one, newest first, and reports the failure.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@sandboxd/core";
import { defaultConfig, type Config } from "../config/config.js";
import { metadataPath, openMetadata } from "../metadata/metadata.js";
import { Daemon } from "./daemon.js";
import { services } from "./services.js";

async function config(t: TestContext): Promise<Config> {
  const dir = await mkdtemp(join(tmpdir(), "sbxd-daemon-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const d = defaultConfig();
  return {
    ...d,
    root: join(dir, "root"),
    state: join(dir, "state"),
    grpc: { ...d.grpc, address: join(dir, "sandboxd.sock") },
    ttrpc: { address: join(dir, "sandboxd.sock.ttrpc") },
  };
}

function start(c: Config): Promise<Daemon> {
  return Daemon.start({
    config: c,
    log: silentLogger,
    publishBinary: "/nonexistent/sandboxd",
    shimDirs: [],
    version: { version: "test", revision: "test" },
  });
}

/** The database is closed when another open of it succeeds (it is held exclusively). */
function assertClosed(c: Config): void {
  const again = openMetadata(metadataPath(c.root));
  again.db.close();
  for (const socket of [c.grpc.address, c.ttrpc.address])
    assert.equal(existsSync(socket), false, `${socket} left behind`);
}

test("a start failing at its last step (metrics listener) closes everything it started", async (t) => {
  const c = await config(t);
  // Not an address of this host.
  await assert.rejects(start({ ...c, metrics: { address: "203.0.113.1:0" } }));
  assertClosed(c);
  // And a daemon starts on the same dirs afterwards.
  const d = await start(c);
  await d.stop(0);
  assertClosed(c);
});

test("stop runs every closer newest first even when one fails, and reports the failure", async (t) => {
  const c = await config(t);
  const d = await start(c);
  const ran: string[] = [];
  d.onStop("first added", () => ran.push("first added"));
  d.onStop("failing", () => {
    ran.push("failing");
    throw new Error("closer failed");
  });
  d.onStop("last added", () => ran.push("last added"));
  await assert.rejects(
    d.stop(0),
    (e: Error) => e instanceof AggregateError && /closer failed/.test(String(e.errors[0])),
  );
  assert.deepEqual(ran, ["last added", "failing", "first added"]);
  assertClosed(c);
  await d.stop(0).catch(() => undefined); // a second stop does nothing more
});

test("Introspection's plugin list is read from the services table", async (t) => {
  const c = await config(t);
  const { pluginList } = await import("./plugins.js");
  const list = pluginList(c, { runtimeRoot: "r", runtimeState: "s" }, services);
  assert.deepEqual(
    list.filter((p) => p.type === "io.containerd.grpc.v1").map((p) => p.id),
    services.map((s) => s.id),
  );
  assert.deepEqual(
    list.filter((p) => p.type === "io.containerd.service.v1").map((p) => p.id),
    services.flatMap((s) => (s.service ? [s.service] : [])),
  );
});
