// The SDK leaves the sandbox controller to sandboxd when the caller names none:
// with `[sandbox] default_sandboxer = "sbx"` (a real sbx-sandboxer reached as
// `[proxy_plugins.sbx]`), `client.newSandbox` with no `sandboxer` lands in that
// sandboxer, not in sandboxd's built-in `shim` controller. A name given by the
// caller still wins. Root.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@sandboxd/client";
import { isNotFound } from "@sandboxd/errdefs";
import {
  assertNoLeaks,
  binDir,
  requireRoot,
  sandboxdPaths,
  snapshotLeaks,
  startSandboxd,
  startSandboxer,
} from "@sandboxd/testing";
import { clients } from "../sandbox/helpers.js";

test("no sandboxer named: sandboxd's [sandbox] default_sandboxer serves the sandbox", async (t) => {
  requireRoot();
  const dir = await mkdtemp(join(tmpdir(), "sbx-default-"));
  const cleanups: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
    await rm(dir, { recursive: true, force: true });
  });
  const proxy = await startSandboxer({
    dir: join(dir, "sbx"),
    network: false,
    eventsAddress: sandboxdPaths(join(dir, "d")).ttrpcAddress,
  });
  cleanups.push(() => proxy.stop());
  const scope = {
    paths: [dir],
    cgroupParents: [proxy.cgroupParent],
    bridges: [proxy.bridge],
  };
  const baseline = await snapshotLeaks(scope);
  const daemon = await startSandboxd({
    dir: join(dir, "d"),
    extraPath: [binDir],
    proxyPlugins: { sbx: { address: proxy.listen } },
    defaultSandboxer: "sbx",
  });
  cleanups.push(() => daemon.stop());
  const client = await Client.connect({ address: daemon.address, namespace: "dflt" });
  cleanups.push(() => Promise.resolve(client.close()));
  // The sandboxer's own Controller, asked directly: it knows only what it serves.
  const direct = clients(proxy.listen, "dflt");
  cleanups.push(() => Promise.resolve(direct.channel.close()));

  const sandbox = await client.newSandbox("pod");
  assert.equal(sandbox.sandboxer, "", "the SDK names no controller of its own");
  const started = await sandbox.start();
  assert.match(started.address, /^ttrpc\+unix:\/\//);
  const held = await direct.controller.status({ sandboxId: "pod", sandboxer: "sbx" });
  assert.equal(held.state, "SANDBOX_READY", "the configured default (sbx) runs the pod");
  assert.equal((await sandbox.status()).state, "SANDBOX_READY");
  const loaded = await client.loadSandbox("pod");
  assert.equal(loaded.sandboxer, "sbx", "sandboxd records the controller it chose");

  // A controller the caller names is still used: `shim` here, which is then
  // not the proxy sandboxer (the runtime has no shim on PATH, so it fails).
  await assert.rejects(
    client.newSandbox("named", { sandboxer: "shim", runtime: { name: "io.containerd.nope.v1" } }),
  );
  await assert.rejects(
    direct.controller.status({ sandboxId: "named", sandboxer: "sbx" }),
    isNotFound,
  );

  await sandbox.shutdown();
  await assert.rejects(
    direct.controller.status({ sandboxId: "pod", sandboxer: "sbx" }),
    isNotFound,
    "shut down in the sandboxer too",
  );
  await assertNoLeaks(baseline, scope, 15_000);
});
