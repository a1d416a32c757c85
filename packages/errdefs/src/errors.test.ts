import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Code,
  Kind,
  conflict,
  fromStatus,
  isConflict,
  isFailedPrecondition,
  isNotFound,
  notFound,
  toStatus,
  wrap,
} from "./index.js";

test("messages read like containerd's", () => {
  assert.equal(notFound('sandbox "x"').message, 'sandbox "x": not found');
  assert.equal(wrap(notFound("task t"), "delete").message, "delete: task t: not found");
  assert.ok(isNotFound(wrap(notFound("task t"), "delete")));
});

test("kinds map to gRPC codes and back", () => {
  assert.deepEqual(toStatus(notFound("x")), { code: Code.NotFound, message: "x: not found" });
  assert.equal(toStatus(new Error("boom")).code, Code.Unknown);
  assert.equal(toStatus(conflict("x")).code, Code.FailedPrecondition);
  const back = fromStatus({ code: Code.FailedPrecondition, message: "lease busy: conflict" });
  assert.ok(isConflict(back));
  assert.ok(isFailedPrecondition(back));
  assert.equal(fromStatus({ code: Code.Unimplemented, message: "m" }).kind, Kind.NotImplemented);
  assert.equal(fromStatus({ code: 99, message: "m" }).kind, Kind.Unknown);
});

test("abort and timeout errors map to canceled and deadline exceeded", () => {
  const abort = new DOMException("aborted", "AbortError");
  const timeout = new DOMException("timed out", "TimeoutError");
  assert.equal(toStatus(abort).code, Code.Canceled);
  assert.equal(toStatus(timeout).code, Code.DeadlineExceeded);
  assert.equal(toStatus(new Error("outer", { cause: abort })).code, Code.Canceled);
});
