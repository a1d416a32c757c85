import { test } from "node:test";
import assert from "node:assert/strict";
import { background } from "../context/context.js";
import { Rollback, withRollback } from "./rollback.js";

test("run undoes newest first, every step even when one throws, and aggregates errors", async () => {
  const undo = new Rollback();
  const done: string[] = [];
  undo.push("one", () => void done.push("one"));
  undo.push("two", () => {
    throw new Error("two failed");
  });
  undo.push("three", () => Promise.resolve(void done.push("three")));
  const result = await undo.run(background());
  assert.deepEqual(done, ["three", "one"]);
  assert.ok(result instanceof AggregateError);
  assert.deepEqual(
    result.errors.map((e: Error) => e.message),
    ["two failed"],
  );
  assert.equal(undo.size, 0);
  assert.equal(await undo.run(background()), undefined);
});

test("undo steps run under a live context even when the request was cancelled", async () => {
  const controller = new AbortController();
  controller.abort();
  const undo = new Rollback();
  let aborted: boolean | undefined;
  undo.push("probe", (ctx) => void (aborted = ctx.signal.aborted));
  await undo.run({ ...background(), signal: controller.signal });
  assert.equal(aborted, false);
});

test("withRollback undoes on failure, keeps on success, and rethrows the operation's error", async () => {
  const done: string[] = [];
  const value = await withRollback(background(), (undo) => {
    undo.push("a", () => void done.push("a"));
    return Promise.resolve(5);
  });
  assert.equal(value, 5);
  assert.equal(done.length, 0);
  await assert.rejects(
    withRollback(background(), (undo) => {
      undo.push("a", () => void done.push("a"));
      undo.push("b", () => {
        throw new Error("undo b");
      });
      return Promise.reject(new Error("step c"));
    }),
    /step c/,
  );
  assert.deepEqual(done, ["a"]);
});
