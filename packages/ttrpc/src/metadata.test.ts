import assert from "node:assert/strict";
import { test } from "node:test";
import { Code } from "./code.js";
import {
  TtrpcError,
  closedError,
  defaultErrorToStatus,
  isClosedError,
  isTtrpcError,
} from "./errors.js";
import { Metadata, metadataFromKeyValues, metadataToKeyValues } from "./metadata.js";

test("metadata keys are case-insensitive and sent lower-case, one KeyValue per value", () => {
  const md = new Metadata({ "Containerd-Namespace-Ttrpc": "default", Multi: ["a", "b"] });
  assert.equal(md.get("containerd-namespace-ttrpc"), "default");
  md.append("MULTI", "c");
  assert.deepEqual(metadataToKeyValues(md), [
    { key: "containerd-namespace-ttrpc", value: "default" },
    { key: "multi", value: "a" },
    { key: "multi", value: "b" },
    { key: "multi", value: "c" },
  ]);
  md.set("multi");
  assert.equal(md.has("multi"), false);
  assert.deepEqual(metadataFromKeyValues([{ key: "X", value: "1" }]).toJSON(), { x: ["1"] });
  assert.deepEqual(metadataToKeyValues([["A", "1"]]), [{ key: "a", value: "1" }]);
});

test("TtrpcError brand works without instanceof; closed errors are UNAVAILABLE", () => {
  // A structural copy (another copy of this package would build the same shape) still passes.
  assert.ok(isTtrpcError({ ...new TtrpcError(Code.NotFound, "x") }));
  assert.ok(isTtrpcError(new TtrpcError(Code.NotFound, "x")));
  assert.ok(!isTtrpcError(new Error("x")));
  const closed = closedError(new Error("EPIPE"));
  assert.equal(closed.code, Code.Unavailable);
  assert.ok(isClosedError(closed));
  assert.ok(!isClosedError(new TtrpcError(Code.Unavailable, "ttrpc: closed")));
  assert.equal(TtrpcError.fromStatus({ code: 99, message: "m" }).code, Code.Unknown);
});

test("default error mapping", () => {
  assert.deepEqual(defaultErrorToStatus("str"), { code: Code.Unknown, message: "str" });
  assert.equal(
    defaultErrorToStatus(new DOMException("t", "TimeoutError")).code,
    Code.DeadlineExceeded,
  );
  assert.equal(defaultErrorToStatus(new DOMException("a", "AbortError")).code, Code.Canceled);
  assert.equal(
    defaultErrorToStatus(Object.assign(new Error("e"), { code: "EEXIST" })).code,
    Code.AlreadyExists,
  );
  assert.equal(
    defaultErrorToStatus(Object.assign(new Error("e"), { code: "EACCES" })).code,
    Code.PermissionDenied,
  );
  assert.equal(defaultErrorToStatus(Object.assign(new Error("e"), { code: 0 })).code, Code.Unknown);
});
