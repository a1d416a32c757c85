import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Code,
  Kind,
  conflict,
  fromStatus,
  invalidArgument,
  isConflict,
  isFailedPrecondition,
  isNotFound,
  isUnavailable,
  messageOf,
  notFound,
  toStatus,
  wrap,
  wrapAs,
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

test("rawMessage, messageOf and wrapAs quote an error without its kind", () => {
  const e = notFound('sandbox "x"');
  assert.equal(e.rawMessage, 'sandbox "x"');
  assert.equal(wrap(e, "delete").rawMessage, 'delete: sandbox "x"');
  assert.equal(messageOf(wrap(e, "delete")), 'delete: sandbox "x"');
  assert.equal(messageOf(new Error("plain")), "plain");
  assert.equal(messageOf("text"), "text");
  assert.equal(notFound().rawMessage, "");
  const decoded = fromStatus({ code: Code.Unavailable, message: "peer gone: unavailable" });
  assert.equal(decoded.rawMessage, "peer gone");
  const again = wrapAs(Kind.Unavailable, e, "sandboxer s");
  assert.equal(again.message, 'sandboxer s: sandbox "x": unavailable');
  assert.equal(again.rawMessage, 'sandboxer s: sandbox "x"');
  assert.ok(isUnavailable(again));
  assert.equal(again.cause, e);
  assert.equal(wrapAs(Kind.Internal, new Error("bad")).message, "bad: internal");
  assert.equal(
    wrapAs(Kind.InvalidArgument, invalidArgument("key k"), "labels").message,
    "labels: key k: invalid argument",
  );
});
