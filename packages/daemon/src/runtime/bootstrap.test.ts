import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { isInvalidArgument } from "@sandboxd/errdefs";
import { BootstrapResultSchema } from "@sandboxd/api/runtime/bootstrap/v1/bootstrap_pb";
import { parseStartOutput, readBootstrap, writeBootstrap } from "./bootstrap.js";
import { Bundle } from "./bundle.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test("start output: plain address (1.x shims), JSON v2/v3, protobuf BootstrapResult", () => {
  assert.deepEqual(parseStartOutput(enc("unix:///run/containerd/s/abc\n")), {
    version: 2,
    address: "unix:///run/containerd/s/abc",
    protocol: "ttrpc",
  });
  assert.deepEqual(
    parseStartOutput(enc('{"version":3,"address":"unix:///s","protocol":"ttrpc"}')),
    {
      version: 3,
      address: "unix:///s",
      protocol: "ttrpc",
    },
  );
  const proto = toBinary(
    BootstrapResultSchema,
    create(BootstrapResultSchema, { version: 3, address: "unix:///p", protocol: "grpc" }),
  );
  assert.deepEqual(parseStartOutput(proto), { version: 3, address: "unix:///p", protocol: "grpc" });
  assert.throws(() => parseStartOutput(enc("")), isInvalidArgument);
  assert.throws(
    () => parseStartOutput(enc('{"version":4,"address":"unix:///s"}')),
    /unsupported shim version \(4\)/,
  );
  assert.throws(() => parseStartOutput(enc('{"version":2}')), /no address/);
});

test("bootstrap.json round-trips; a 1.x bundle's address file is read as version 2", async () => {
  const dir = await mkdtemp(join(tmpdir(), "sbxd-bundle-"));
  try {
    const bundle = new Bundle("ns", "id", dir, join(dir, "work"));
    assert.equal(await readBootstrap(bundle), undefined);
    await writeFile(join(dir, "address"), "unix:///run/containerd/s/x");
    assert.deepEqual(await readBootstrap(bundle), {
      version: 2,
      address: "unix:///run/containerd/s/x",
      protocol: "ttrpc",
    });
    await writeBootstrap(bundle, { version: 3, address: "unix:///y", protocol: "ttrpc" });
    assert.deepEqual(await readBootstrap(bundle), {
      version: 3,
      address: "unix:///y",
      protocol: "ttrpc",
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
