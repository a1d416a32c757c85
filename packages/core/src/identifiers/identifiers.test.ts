import { test } from "node:test";
import assert from "node:assert/strict";
import { isInvalidArgument } from "@sandboxd/errdefs";
import { isValid, validate } from "./identifiers.js";

test("accepts containerd identifiers", () => {
  for (const id of ["a", "A1", "foo.bar_baz-1", "x".repeat(76), "default", "k8s.io"]) {
    assert.ok(isValid(id), id);
    validate(id);
  }
});

test("rejects bad identifiers with InvalidArgument naming the value", () => {
  for (const id of ["", "../x", "a--b", "-a", "a.", "a b", "x".repeat(77), "a/b", "é"]) {
    assert.equal(isValid(id), false, id);
    assert.throws(
      () => validate(id),
      (err) => isInvalidArgument(err),
    );
  }
  assert.throws(() => validate("../x"), /identifier "\.\.\/x" must match/);
});
