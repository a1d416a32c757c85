import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isInvalidArgument } from "@sandboxd/errdefs";
import { defaultConfig, loadConfig, parseConfigText, resolveConfig } from "./config.js";

test("defaults live under /run/sbx-sandboxer", () => {
  const c = defaultConfig();
  assert.equal(c.stateDir, "/run/sbx-sandboxer");
  assert.equal(c.listen, "/run/sbx-sandboxer/sandboxer.sock");
  assert.equal(c.taskSocket, "/run/sbx-sandboxer/task.sock");
  assert.equal(c.network.bridge, "sbx0");
  assert.equal(c.network.cniBinDir, "/usr/lib/cni");
});

test("sockets follow state_dir unless given; flags win over the file", () => {
  const file = parseConfigText(`
state_dir = "/tmp/x"
log_level = "debug"
events_address = "/run/containerd/containerd.sock.ttrpc"
[network]
bridge = "br9"
subnet = "10.9.0.0/16"
is_gateway = false
[binaries]
runc = "/opt/runc"
`);
  const c = resolveConfig(file, { bridge: "br1", listen: "/tmp/grpc.sock" });
  assert.equal(c.stateDir, "/tmp/x");
  assert.equal(c.taskSocket, "/tmp/x/task.sock");
  assert.equal(c.listen, "/tmp/grpc.sock");
  assert.equal(c.logLevel, "debug");
  assert.equal(c.eventsAddress, "/run/containerd/containerd.sock.ttrpc");
  assert.equal(c.network.bridge, "br1");
  assert.equal(c.network.subnet, "10.9.0.0/16");
  assert.equal(c.network.isGateway, false);
  assert.equal(c.binaries.runc, "/opt/runc");
  assert.equal(c.binaries.conmon, "/usr/bin/conmon");
});

test("prepared_networks: none by default, else as many as asked", () => {
  assert.equal(resolveConfig({}).network.preparedNetworks, 0);
  const c = resolveConfig(parseConfigText("[network]\nprepared_networks = 3"));
  assert.equal(c.network.preparedNetworks, 3);
});

test("bad values are rejected naming the key", () => {
  const cases: [string, RegExp][] = [
    ['state_dir = "relative"', /state_dir "relative": must be an absolute path/],
    ['log_level = "loud"', /log_level "loud"/],
    ['[network]\nbridge = "a-name-that-is-far-too-long"', /network.bridge/],
    ['[network]\nsubnet = "10.0.0.0"', /network.subnet/],
    ["recovery_concurrency = 0", /recovery_concurrency/],
    ['[network]\nenabled = "yes"', /network.enabled: expected a boolean/],
    [`task_socket = "/${"x".repeat(120)}"`, /task_socket .* longer than 106 bytes/],
    ['cgroup_parent = "/abs"', /cgroup_parent/],
    // a key in the wrong table is named with its table, not silently dropped
    ['[binaries]\ncgroup_parent = "x"', /unknown key binaries\.cgroup_parent .*knows: .*runc/],
    ['stat_dir = "/run/x"', /unknown key stat_dir/],
    ['[network]\nsubnets = "10.0.0.0/8"', /unknown key network\.subnets/],
    ["[network]\nprepared_networks = -1", /network.prepared_networks -1: must be from 0 to 64/],
    ["[network]\nprepared_networks = 65", /network.prepared_networks 65/],
    ["[network]\nprepared_networks = 1.5", /network.prepared_networks/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => resolveConfig(parseConfigText(text)),
      (e: Error) => isInvalidArgument(e) && message.test(e.message),
      text,
    );
  }
  assert.throws(
    () => parseConfigText("this is = = not toml"),
    (e: Error) => isInvalidArgument(e),
  );
});

test("SBX_SANDBOXER_CONFIG names the file; a missing explicit file is an error", () => {
  const dir = mkdtempSync(join(tmpdir(), "sbx-config-"));
  try {
    const path = join(dir, "c.toml");
    writeFileSync(path, `state_dir = ${JSON.stringify(dir)}\n`);
    const c = loadConfig({}, { SBX_SANDBOXER_CONFIG: path });
    assert.equal(c.stateDir, dir);
    assert.equal(c.source, path);
    assert.throws(
      () => loadConfig({}, { SBX_SANDBOXER_CONFIG: join(dir, "missing.toml") }),
      (e: Error) => isInvalidArgument(e) && /missing.toml/.test(e.message),
    );
    assert.equal(
      loadConfig({ stateDir: "/tmp/y" }, { SBX_SANDBOXER_CONFIG: path }).stateDir,
      "/tmp/y",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
