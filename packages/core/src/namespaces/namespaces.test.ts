import { test } from "node:test";
import assert from "node:assert/strict";
import { isAlreadyExists, isInvalidArgument, isNotFound } from "@sandboxd/errdefs";
import { background } from "../context/context.js";
import { callContext } from "./namespaces.js";
import { NamespacedMap } from "./nsmap.js";

test("callContext carries the call's signal, deadline and namespace", () => {
  const signal = new AbortController().signal;
  const ctx = callContext(background(), { signal, deadline: 5, namespace: "ns", method: "/a/B" });
  assert.equal(ctx.signal, signal);
  assert.equal(ctx.deadline, 5);
  assert.equal(ctx.namespace, "ns");
  assert.ok(ctx.log);
  assert.equal(
    callContext(background(), { signal, namespace: "", method: "/a" }).namespace,
    undefined,
  );
  assert.throws(
    () =>
      callContext(
        background(),
        { signal, namespace: "bad..ns", method: "/a" },
        { validateNamespace: true },
      ),
    (e) => isInvalidArgument(e),
  );
});

test("NamespacedMap keeps ids apart per namespace", () => {
  const map = new NamespacedMap<number>();
  map.set("a", "x", 1).set("b", "x", 2);
  assert.equal(map.get("a", "x"), 1);
  assert.equal(map.get("b", "x"), 2);
  assert.equal(map.size, 2);
  assert.throws(
    () => map.add("a", "x", 3, "task"),
    (e) => isAlreadyExists(e),
  );
  assert.throws(
    () => map.getOrThrow("a", "y", "task"),
    (e) => isNotFound(e),
  );
  assert.deepEqual(
    [...map.entries()],
    [
      ["a", "x", 1],
      ["b", "x", 2],
    ],
  );
  assert.deepEqual(map.list("b"), [2]);
  assert.ok(map.delete("a", "x"));
  assert.ok(!map.delete("a", "x"));
  assert.deepEqual([...map.values()], [2]);
});
