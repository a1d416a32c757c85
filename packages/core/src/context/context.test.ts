import { test } from "node:test";
import assert from "node:assert/strict";
import { isDeadlineExceeded, isFailedPrecondition, isInvalidArgument } from "@sandboxd/errdefs";
import { background, detached, namespaceRequired, withNamespace, withTimeout } from "./context.js";

test("namespaceRequired refuses a missing or invalid namespace", () => {
  assert.throws(
    () => namespaceRequired(background()),
    (e) => isFailedPrecondition(e),
  );
  assert.throws(
    () => namespaceRequired(withNamespace(background(), "a--b")),
    (e) => isInvalidArgument(e),
  );
  assert.equal(namespaceRequired(withNamespace(background(), "default")), "default");
});

test("withTimeout aborts with a deadline error and follows the parent", async () => {
  const { ctx, done } = withTimeout(background(), 5);
  await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
  assert.ok(isDeadlineExceeded(ctx.signal.reason));
  done();
  const parent = new AbortController();
  const child = withTimeout({ ...background(), signal: parent.signal }, 60_000);
  parent.abort(new Error("stop"));
  assert.ok(child.ctx.signal.aborted);
  child.done();
});

test("detached drops the parent's cancellation but keeps the namespace", () => {
  const parent = new AbortController();
  parent.abort();
  const base = withNamespace({ ...background(), signal: parent.signal }, "ns1");
  const { ctx, done } = detached(base, 1000);
  assert.equal(ctx.signal.aborted, false);
  assert.equal(ctx.namespace, "ns1");
  done();
});
