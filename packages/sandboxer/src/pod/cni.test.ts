import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { background } from "@sandboxd/core";
import { isFailedPrecondition } from "@sandboxd/errdefs";
import { defaultConfig } from "../config/config.js";
import {
  bridgeConfig,
  cniContainerId,
  describePluginError,
  execPlugin,
  loopbackConfig,
  portmapConfig,
  primaryAddress,
} from "./cni.js";

test("the bridge network config carries bridge, subnet and an IPAM dir of our own", () => {
  const net = {
    ...defaultConfig().network,
    bridge: "sbxt1",
    subnet: "10.77.0.0/24",
    isGateway: false,
    mtu: 1400,
  };
  const c = bridgeConfig(net, "/state/cni");
  assert.equal(c.cniVersion, "1.0.0");
  assert.equal(c.type, "bridge");
  assert.equal(c.bridge, "sbxt1");
  assert.equal(c.isGateway, false);
  assert.equal(c.mtu, 1400);
  assert.deepEqual(c.ipam, {
    type: "host-local",
    ranges: [[{ subnet: "10.77.0.0/24" }]],
    routes: [{ dst: "0.0.0.0/0" }],
    dataDir: "/state/cni",
  });
  assert.deepEqual(loopbackConfig(), { cniVersion: "1.0.0", name: "loopback", type: "loopback" });
});

test("CNI container ids are unique per state dir and namespace, and valid for plugins", () => {
  const a = cniContainerId("/run/s", "a-b", "c");
  const b = cniContainerId("/run/s", "a", "b-c");
  assert.notEqual(a, b);
  assert.notEqual(cniContainerId("/run/t", "a-b", "c"), a);
  assert.match(a, /^[0-9a-f]{40}$/);
  assert.equal(cniContainerId("/run/s", "a-b", "c"), a);
});

test("portmap's config carries the mappings as runtimeConfig, for ADD and DEL alike", () => {
  const net = { name: "n1" } as Parameters<typeof portmapConfig>[0];
  const c = portmapConfig(net, [
    { hostPort: 8080, containerPort: 80, protocol: "tcp" },
    { hostPort: 5353, containerPort: 53, protocol: "udp", hostIP: "127.0.0.1" },
  ]);
  assert.equal(c.name, "n1");
  assert.equal(c.type, "portmap");
  assert.deepEqual(c.runtimeConfig, {
    portMappings: [
      { hostPort: 8080, containerPort: 80, protocol: "tcp" },
      { hostPort: 5353, containerPort: 53, protocol: "udp", hostIP: "127.0.0.1" },
    ],
  });
});

test("results: the sandbox interface's address and gateway", () => {
  const result = {
    cniVersion: "1.0.0",
    interfaces: [
      { name: "sbx0", mac: "aa" },
      { name: "veth1", mac: "bb" },
      { name: "eth0", mac: "cc", sandbox: "/p/net" },
    ],
    ips: [{ interface: 2, address: "10.77.0.5/24", gateway: "10.77.0.1" }],
  };
  assert.deepEqual(primaryAddress(result), { ip: "10.77.0.5", gateway: "10.77.0.1" });
  assert.deepEqual(primaryAddress({ ips: [{ address: "10.1.2.3/16" }] }), { ip: "10.1.2.3" });
  assert.deepEqual(primaryAddress({}), {});
});

test("plugin errors name the plugin and carry its message", () => {
  assert.equal(
    describePluginError(
      "bridge",
      '{"code":11,"msg":"failed to allocate","details":"range full"}',
      "",
      1,
    ),
    "CNI plugin bridge: failed to allocate: range full (code 11)",
  );
  assert.equal(
    describePluginError("bridge", "", "boom\n", 2),
    "CNI plugin bridge: exit status 2: boom",
  );
});

test("plugins run per the CNI spec: env parameters, config on stdin, JSON out", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sbx-cni-"));
  try {
    const plugin = join(dir, "fake");
    writeFileSync(
      plugin,
      `#!/bin/sh\nconfig=$(cat)\nprintf '{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.9/24"}],"echo":"%s %s %s %s %s"}' "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_NETNS" "$CNI_IFNAME" "$CNI_PATH"\n`,
    );
    chmodSync(plugin, 0o755);
    const r = (await execPlugin(background(), {
      binDir: dir,
      command: "ADD",
      containerId: "abc",
      netns: "/p/net",
      ifname: "eth0",
      config: { cniVersion: "1.0.0", name: "n", type: "fake" },
    })) as { echo?: string; ips?: unknown[] };
    assert.equal(r.echo, `ADD abc /p/net eth0 ${dir}`);
    assert.equal(r.ips?.length, 1);
    await assert.rejects(
      execPlugin(background(), {
        binDir: dir,
        command: "ADD",
        containerId: "abc",
        netns: "/p/net",
        ifname: "eth0",
        config: { cniVersion: "1.0.0", name: "n", type: "missing" },
      }),
      (e: Error) => isFailedPrecondition(e) && /CNI plugin missing: not found in/.test(e.message),
    );
    writeFileSync(plugin, `#!/bin/sh\necho '{"code":7,"msg":"invalid netns"}'\nexit 1\n`);
    await assert.rejects(
      execPlugin(background(), {
        binDir: dir,
        command: "ADD",
        containerId: "abc",
        netns: "/p/net",
        ifname: "eth0",
        config: { cniVersion: "1.0.0", name: "n", type: "fake" },
      }),
      /ADD eth0: CNI plugin fake: invalid netns \(code 7\)/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
