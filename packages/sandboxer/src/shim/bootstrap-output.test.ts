import assert from "node:assert/strict";
import { test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import {
  BootstrapParamsSchema,
  BootstrapResultSchema,
} from "@sandboxd/api/runtime/bootstrap/v1/bootstrap_pb";
import {
  bootstrapVersion,
  chooseForm,
  formatStartOutput,
  parseVersion,
} from "./bootstrap-output.js";

const address = "unix:///run/sbx-sandboxer/task.sock";
const none = new Uint8Array();

test("containerd versions parse from --version text and plain tags", () => {
  assert.deepEqual(parseVersion("containerd github.com/containerd/containerd v1.7.0 1fbd703"), {
    major: 1,
    minor: 7,
    patch: 0,
  });
  assert.deepEqual(parseVersion("containerd containerd.io 1.6.20~ds1 1.6.20~ds1-1+b1"), {
    major: 1,
    minor: 6,
    patch: 20,
  });
  assert.deepEqual(parseVersion("v2.3.0-beta.1"), { major: 2, minor: 3, patch: 0 });
  assert.equal(parseVersion("nothing here"), undefined);
});

test("1.6 (no GRPC_ADDRESS) gets a plain address, never asking the binary", async () => {
  let asked = false;
  const r = await chooseForm({
    stdin: none,
    env: { TTRPC_ADDRESS: "/run/containerd/containerd.sock.ttrpc" },
    publishBinaryVersion: () => {
      asked = true;
      return Promise.resolve("v2.0.0");
    },
  });
  assert.equal(r.form, "plain");
  assert.equal(asked, false);
});

test("1.7 and 2.0-2.2 are told apart by the publish binary's version", async () => {
  const env = { GRPC_ADDRESS: "/run/containerd/containerd.sock" };
  const v17 = await chooseForm({
    stdin: none,
    env,
    publishBinaryVersion: () => Promise.resolve("containerd x v1.7.2 abc"),
  });
  assert.equal(v17.form, "plain");
  const v21 = await chooseForm({
    stdin: none,
    env,
    publishBinaryVersion: () => Promise.resolve("containerd x v2.1.4 abc"),
  });
  assert.equal(v21.form, "json");
  const unknown = await chooseForm({
    stdin: none,
    env,
    publishBinaryVersion: () => Promise.resolve(undefined),
  });
  assert.equal(unknown.form, "plain");
});

test("2.3+ sends BootstrapParams with its version: protobuf BootstrapResult", async () => {
  const params = toBinary(
    BootstrapParamsSchema,
    create(BootstrapParamsSchema, {
      instanceId: "c1",
      namespace: "default",
      containerdVersion: "v2.3.1",
    }),
  );
  assert.equal(bootstrapVersion(params), "v2.3.1");
  const r = await chooseForm({
    stdin: params,
    env: { GRPC_ADDRESS: "/x" },
    publishBinaryVersion: () => Promise.reject(new Error("not asked")),
  });
  assert.equal(r.form, "proto");
  // An old-style options Any is not mistaken for 2.3+ (it has no containerd_version).
  const any = toBinary(
    AnySchema,
    create(AnySchema, { typeUrl: "containerd.runc.v1.Options", value: new Uint8Array([8, 1]) }),
  );
  assert.equal(bootstrapVersion(any), undefined);
});

test("outputs: plain, JSON v3, protobuf; never a leading space or newline", () => {
  const plain = new TextDecoder().decode(formatStartOutput("plain", address));
  assert.equal(plain, address);
  const json = JSON.parse(new TextDecoder().decode(formatStartOutput("json", address))) as Record<
    string,
    unknown
  >;
  assert.deepEqual(json, { version: 3, address, protocol: "ttrpc" });
  const proto = fromBinary(BootstrapResultSchema, formatStartOutput("proto", address));
  assert.equal(proto.version, 3);
  assert.equal(proto.address, address);
  assert.equal(proto.protocol, "ttrpc");
  for (const form of ["plain", "json", "proto"] as const) {
    const first = formatStartOutput(form, address)[0];
    assert.ok(first !== 0x20 && first !== 0x0a, form);
  }
});
