import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isInvalidArgument } from "@sandboxd/errdefs";
import { configureHosts, hostDirectory, parseHostsToml } from "./hosts.js";

test("hosts.toml: mirrors in file order, then the server; /v2 appended; capabilities kept", () => {
  const dir = mkdtempSync(join(tmpdir(), "sbx-hosts-"));
  try {
    writeFileSync(join(dir, "ca.pem"), "not really a cert\n");
    const text = [
      'server = "https://registry.k8s.io"',
      '[host."http://127.0.0.1:5000"]',
      '  capabilities = ["pull", "resolve"]',
      '[host."https://mirror.example/prefix"]',
      '  capabilities = ["pull"]',
      '  ca = "ca.pem"',
      "  skip_verify = true",
      '  [host."https://mirror.example/prefix".header]',
      '    x-custom = ["a", "b"]',
      '[host."https://raw.example/api"]',
      "  override_path = true",
    ].join("\n");
    const hosts = parseHostsToml(text, "registry.k8s.io", dir);
    assert.deepEqual(
      hosts.map((h) => [h.scheme, h.host, h.path, h.capabilities.join(",")]),
      [
        ["http", "127.0.0.1:5000", "/v2", "pull,resolve"],
        ["https", "mirror.example", "/prefix/v2", "pull"],
        ["https", "raw.example", "/api", "pull,resolve,push"],
        ["https", "registry.k8s.io", "/v2", "pull,resolve,push"],
      ],
    );
    assert.equal(hosts[1]?.tls?.skipVerify, true);
    assert.equal(hosts[1]?.tls?.ca?.[0]?.toString(), "not really a cert\n");
    assert.deepEqual(hosts[1]?.headers, { "x-custom": "a, b" });
    assert.throws(
      () => parseHostsToml('[host."https://x"]\ncapabilities = ["fly"]', "x", dir),
      (e) => isInvalidArgument(e) && /unknown capability "fly"/.test(String(e)),
    );
    assert.throws(() => parseHostsToml("server = [", "x", dir), isInvalidArgument);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("config_path: host_port_ or host:port directories, then _default, then built-in defaults", () => {
  const root = mkdtempSync(join(tmpdir(), "sbx-hosts-"));
  try {
    assert.equal(hostDirectory("127.0.0.1:5000"), "127.0.0.1_5000_");
    mkdirSync(join(root, "127.0.0.1_5000_"));
    writeFileSync(
      join(root, "127.0.0.1_5000_", "hosts.toml"),
      'server = "https://127.0.0.1:5000"\nskip_verify = true\n',
    );
    mkdirSync(join(root, "_default"));
    writeFileSync(
      join(root, "_default", "hosts.toml"),
      '[host."http://10.0.0.1:5000"]\ncapabilities = ["pull", "resolve"]\n',
    );
    const hosts = configureHosts(`/nonexistent:${root}`);
    const local = hosts("127.0.0.1:5000") as ReturnType<typeof parseHostsToml>;
    assert.deepEqual(
      local.map((h) => `${h.scheme}://${h.host}`),
      ["https://127.0.0.1:5000"],
    );
    const other = hosts("quay.io") as ReturnType<typeof parseHostsToml>;
    assert.deepEqual(
      other.map((h) => `${h.scheme}://${h.host}`),
      ["http://10.0.0.1:5000", "https://quay.io"],
    );
    const none = configureHosts(undefined);
    assert.deepEqual(
      (none("docker.io") as ReturnType<typeof parseHostsToml>)[0]?.host,
      "registry-1.docker.io",
    );
    assert.deepEqual(
      (none("localhost:5000") as ReturnType<typeof parseHostsToml>)[0]?.scheme,
      "http",
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
