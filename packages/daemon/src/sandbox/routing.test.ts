// The routing rule without root: request, instance, record, default; a
// mismatch is InvalidArgument, an unknown name NotFound naming it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { isInvalidArgument, isNotFound } from "@sandboxd/errdefs";
import { InstanceState, type Sandbox, type SandboxInstance } from "../metadata/types.js";
import { pickSandboxer, type Claims } from "./routing.js";

const configured = ["shim", "sbx"];

function instance(sandboxer: string): SandboxInstance {
  return {
    id: "p",
    sandboxer,
    state: InstanceState.Started,
    address: "",
    version: 0,
    updatedAt: 0,
  };
}

function record(sandboxer: string): Sandbox {
  return {
    id: "p",
    runtime: { name: "r" },
    labels: {},
    extensions: {},
    sandboxer,
    createdAt: 0,
    updatedAt: 0,
  };
}

test("the request's sandboxer, else the instance's, else the record's, else the default", () => {
  const cases: [Omit<Claims, "id">, string][] = [
    [{ requested: "sbx" }, "sbx"],
    [{ requested: "", instance: instance("sbx"), record: record("shim") }, "sbx"],
    [{ requested: "", record: record("sbx") }, "sbx"],
    [{ requested: "" }, "shim"],
    [{ requested: "", record: record("") }, "shim"],
    [{ requested: "sbx", record: record("") }, "sbx"],
    [{ requested: "sbx", instance: instance("sbx") }, "sbx"],
  ];
  for (const [claims, want] of cases) {
    assert.equal(
      pickSandboxer({ id: "p", ...claims }, "shim", configured),
      want,
      JSON.stringify(claims),
    );
  }
});

test("a request naming another sandboxer than the one holding the sandbox is InvalidArgument", () => {
  for (const held of [{ instance: instance("sbx") }, { record: record("sbx") }]) {
    assert.throws(
      () => pickSandboxer({ id: "p", requested: "shim", ...held }, "shim", configured),
      (e: Error) =>
        isInvalidArgument(e) && /belongs to sandboxer "sbx", not "shim"/.test(e.message),
    );
  }
});

test("an unknown sandboxer is NotFound naming it and the configured ones; an instance keeps a dropped one", () => {
  assert.throws(
    () => pickSandboxer({ id: "p", requested: "nope" }, "shim", configured),
    (e: Error) =>
      isNotFound(e) && e.message.includes('sandboxer "nope" (configured: "shim", "sbx")'),
  );
  assert.throws(
    () => pickSandboxer({ id: "p", requested: "" }, "gone", configured),
    (e: Error) => isNotFound(e) && e.message.includes('"gone"'),
  );
  assert.equal(
    pickSandboxer({ id: "p", requested: "", instance: instance("dropped") }, "shim", configured),
    "dropped",
  );
});
