import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isInvalidArgument, isNotFound } from "@sandboxd/errdefs";
import { parseAddress, socketPathFor } from "./address.js";
import { resolveShimBinary, shimBinaryName } from "./binary.js";
import { deleteArgs, parseShimFlags, startArgs } from "./flags.js";

test("runtime names map to containerd's shim binary names", () => {
  assert.equal(shimBinaryName("io.containerd.runc.v2"), "containerd-shim-runc-v2");
  assert.equal(shimBinaryName("io.containerd.sbx.v1"), "containerd-shim-sbx-v1");
  assert.equal(shimBinaryName("io.foo.bar.runc2.v2.baz"), "containerd-shim-v2-baz");
  assert.equal(shimBinaryName("runc"), undefined);
  assert.equal(shimBinaryName(".a.b"), undefined);
});

test("resolveShimBinary searches PATH and names what is missing", () => {
  const dir = mkdtempSync(join(tmpdir(), "shim-bin-"));
  const binary = join(dir, "containerd-shim-foo-v1");
  writeFileSync(binary, "#!/bin/sh\n", { mode: 0o755 });
  assert.equal(resolveShimBinary("io.containerd.foo.v1", { path: `/nonexistent:${dir}` }), binary);
  assert.equal(resolveShimBinary("io.containerd.foo.v1", { path: "", extraDirs: [dir] }), binary);
  assert.equal(resolveShimBinary(binary), binary);
  rmSync(dir, { recursive: true });
  assert.throws(
    () => resolveShimBinary("io.containerd.nope.v9", { path: "/nonexistent" }),
    (e: Error) => {
      assert.ok(isNotFound(e));
      assert.match(e.message, /containerd-shim-nope-v9 not installed/);
      return true;
    },
  );
  assert.throws(
    () => resolveShimBinary("rel/path"),
    (e) => isInvalidArgument(e),
  );
  assert.throws(
    () => resolveShimBinary("plain"),
    (e) => isInvalidArgument(e),
  );
});

test("addresses: unix paths, protocol prefixes, abstract names", () => {
  assert.deepEqual(parseAddress("unix:///run/s/abc"), {
    protocol: "ttrpc",
    socketPath: "/run/s/abc",
    address: "unix:///run/s/abc",
  });
  assert.deepEqual(parseAddress("grpc+unix:///x.sock").protocol, "grpc");
  assert.equal(parseAddress("ttrpc+unix:///x.sock").socketPath, "/x.sock");
  assert.equal(parseAddress("/containerd-shim/abc.sock").socketPath, "\0/containerd-shim/abc.sock");
  assert.throws(
    () => parseAddress("vsock://3:1024"),
    (e) => isInvalidArgument(e),
  );
  assert.throws(
    () => parseAddress("foo+unix:///x"),
    (e) => isInvalidArgument(e),
  );
  const p = socketPathFor(
    "/run/sandboxd/s",
    "/run/sandboxd/sandboxd.sock",
    "default",
    "x".repeat(76),
  );
  assert.match(p, /^\/run\/sandboxd\/s\/[0-9a-f]{64}$/);
});

test("shim flags parse like Go's flag package and round-trip start/delete argv", () => {
  const opts = {
    namespace: "default",
    id: "c1",
    address: "/run/c.sock",
    publishBinary: "/usr/bin/containerd",
    debug: true,
  };
  const start = parseShimFlags(startArgs(opts));
  assert.equal(start.action, "start");
  assert.equal(start.namespace, "default");
  assert.equal(start.publishBinary, "/usr/bin/containerd");
  assert.equal(start.debug, true);
  const del = parseShimFlags(deleteArgs({ ...opts, bundle: "/b" }));
  assert.equal(del.action, "delete");
  assert.equal(del.bundle, "/b");
  assert.equal(parseShimFlags(["--id=x", "-v"]).version, true);
  assert.equal(parseShimFlags(["-info"]).info, true);
  assert.throws(() => parseShimFlags(["-bogus"]), /not defined: -bogus/);
  assert.throws(
    () => parseShimFlags(["-id"]),
    (e) => isInvalidArgument(e),
  );
});
