import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isInvalidArgument, isNotFound } from "@sandboxd/errdefs";
import { parseArgs } from "../cli/args.js";
import { applyFlags, defaultConfig, loadConfigFile, parseConfig } from "./config.js";

test("defaults: /var/lib/sandboxd, /run/sandboxd, the socket and <socket>.ttrpc", () => {
  const c = defaultConfig();
  assert.equal(c.root, "/var/lib/sandboxd");
  assert.equal(c.state, "/run/sandboxd");
  assert.equal(c.grpc.address, "/run/sandboxd/sandboxd.sock");
  assert.equal(c.ttrpc.address, "/run/sandboxd/sandboxd.sock.ttrpc");
  assert.equal(c.debug.level, "info");
  assert.equal(c.metrics.address, "");
  assert.equal(c.cli.serve, true);
  assert.equal(parseConfig("[cli]\nserve = false", "f.toml").config.cli.serve, false);
});

test("a containerd-shaped file is read; unknown keys are warnings", () => {
  const { config, warnings } = parseConfig(
    `version = 2
root = "/r"
state = "/s"
disabled_plugins = ["x"]
[grpc]
  address = "/s/g.sock"
  uid = 1000
  gid = 1000
[debug]
  level = "debug"
[metrics]
  address = "127.0.0.1:1338"
[proxy_plugins.kuasar]
  type = "sandbox"
  address = "/run/kuasar.sock"
[plugins."io.containerd.grpc.v1.cri"]
  x = 1
`,
    "/etc/sandboxd/config.toml",
  );
  assert.equal(config.root, "/r");
  assert.equal(config.grpc.address, "/s/g.sock");
  assert.equal(config.grpc.uid, 1000);
  assert.equal(config.ttrpc.address, "/s/g.sock.ttrpc", "ttrpc follows the gRPC address");
  assert.equal(config.debug.level, "debug");
  assert.equal(config.metrics.address, "127.0.0.1:1338");
  assert.deepEqual(config.proxyPlugins, {
    kuasar: { type: "sandbox", address: "/run/kuasar.sock", platform: undefined },
  });
  assert.deepEqual(warnings, [
    'config /etc/sandboxd/config.toml: ignoring unknown key "disabled_plugins"',
    'config /etc/sandboxd/config.toml: ignoring unknown key "plugins.io.containerd.grpc.v1.cri"',
  ]);
});

test("errors name the file and the key", () => {
  const cases: [string, RegExp][] = [
    ["root = 3", /^config f\.toml: "root": must be a string, got number 3: invalid argument$/],
    ['root = "relative"', /"root": must be an absolute path, got "relative"/],
    ["[grpc]\naddress = true", /"grpc.address": must be a string, got boolean true/],
    ["[grpc]\nuid = -1", /"grpc.uid": must be a non-negative integer/],
    ['[debug]\nlevel = "loud"', /"debug.level": unknown level "loud"/],
    ['[metrics]\naddress = "nope"', /"metrics.address": must be host:port/],
    ['[cli]\nserve = "no"', /"cli.serve": must be true or false, got string "no"/],
    ["version = 9", /"version": unsupported version 9/],
    ['[proxy_plugins.x]\ntype = "sandbox"', /"proxy_plugins.x.address": must be set/],
    ['grpc = "x"', /"grpc": must be a table, got string "x"/],
    ["root = [", /^config f\.toml \(line 1, column \d+\): Invalid TOML document/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseConfig(text, "f.toml"),
      (err: Error) => isInvalidArgument(err) && re.test(err.message),
      text,
    );
  }
});

test("a missing file is NotFound naming it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "sbxd-config-"));
  try {
    await assert.rejects(loadConfigFile(join(dir, "nope.toml")), (err: Error) => {
      return isNotFound(err) && err.message.includes("nope.toml");
    });
    await writeFile(join(dir, "ok.toml"), 'root = "/x"\n');
    assert.equal((await loadConfigFile(join(dir, "ok.toml"))).config.root, "/x");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("flags override the file; the ttrpc socket follows --address unless set", () => {
  const base = parseConfig('root = "/r"\n[ttrpc]\naddress = "/t.sock"\n').config;
  const c = applyFlags(base, { root: "/x", address: "/a.sock", logLevel: "trace" });
  assert.equal(c.root, "/x");
  assert.equal(c.grpc.address, "/a.sock");
  assert.equal(c.ttrpc.address, "/t.sock");
  assert.equal(c.debug.level, "trace");
  assert.equal(applyFlags(defaultConfig(), { address: "/a.sock" }).ttrpc.address, "/a.sock.ttrpc");
  assert.throws(
    () => applyFlags(defaultConfig(), { root: "rel" }),
    /"--root": must be an absolute path/,
  );
  assert.throws(() => applyFlags(defaultConfig(), { logLevel: "x" }), /"--log-level"/);
});

test("command line: global flags, --flag=value, publish", () => {
  assert.deepEqual(parseArgs(["--config", "/c", "--root=/r", "-l", "debug"]), {
    name: "serve",
    global: {
      config: "/c",
      root: "/r",
      state: undefined,
      address: undefined,
      logLevel: "debug",
      help: false,
      version: false,
    },
  });
  assert.deepEqual(
    parseArgs(["--address", "/a", "publish", "--topic", "/tasks/exit", "--namespace", "ns"]),
    {
      name: "publish",
      global: {
        config: undefined,
        root: undefined,
        state: undefined,
        address: "/a",
        logLevel: undefined,
        help: false,
        version: false,
      },
      topic: "/tasks/exit",
      namespace: "ns",
    },
  );
  assert.throws(() => parseArgs(["--bogus"]), /flag provided but not defined: --bogus/);
  assert.throws(() => parseArgs(["publish", "--topic", "/x"]), /--namespace is required/);
  assert.throws(() => parseArgs(["frob"]), /unknown command "frob"/);
  assert.equal(parseArgs(["-h"]).global.help, true);
});

test("[sandbox] in_process: a sandboxer name default_sandboxer may name; clashes and orphans refused", () => {
  const { config } = parseConfig(
    '[sandbox]\ndefault_sandboxer = "sbx"\nin_process = "sbx"\nin_process_config = "/etc/s.toml"\n',
  );
  assert.deepEqual(config.sandbox, {
    defaultSandboxer: "sbx",
    inProcess: { name: "sbx", config: "/etc/s.toml" },
  });
  assert.deepEqual(defaultConfig().sandbox.inProcess, { name: "", config: "" });
  for (const [text, message] of [
    ['[sandbox]\nin_process = "shim"', /"sandbox.in_process": .*built-in shim controller's/],
    [
      '[sandbox]\nin_process = "sbx"\n[proxy_plugins.sbx]\ntype = "sandbox"\naddress = "/s.sock"',
      /"sandbox.in_process": .*\[proxy_plugins.sbx\]'s/,
    ],
    ['[sandbox]\nin_process_config = "/x.toml"', /"sandbox.in_process_config": needs/],
    ['[sandbox]\ndefault_sandboxer = "sbx"', /unknown sandboxer "sbx".*sandbox.in_process/],
  ] as const) {
    assert.throws(
      () => parseConfig(text, "f.toml"),
      (err: unknown) => isInvalidArgument(err) && message.test(String(err)),
      text,
    );
  }
});
