import { test } from "node:test";
import assert from "node:assert/strict";
import { isInvalidArgument } from "@sandboxd/errdefs";
import { applyMapKey, parseFieldPaths } from "./fieldpaths.js";
import { validateLabel, validateLabels } from "../labels/labels.js";

const rules = { fields: ["spec", "image"], maps: ["labels", "extensions"] };

test("paths are whole fields or map keys; the key keeps its dots", () => {
  assert.deepEqual(parseFieldPaths(["spec", "labels", "labels.a.b/c", "extensions.x"], rules), [
    { kind: "field", field: "spec" },
    { kind: "field", field: "labels" },
    { kind: "key", field: "labels", key: "a.b/c" },
    { kind: "key", field: "extensions", key: "x" },
  ]);
});

test("unknown paths are InvalidArgument naming the path", () => {
  for (const path of ["id", "spec.x", "runtime", ".labels", ""]) {
    assert.throws(
      () => parseFieldPaths([path], rules),
      (err: Error) => isInvalidArgument(err) && err.message.includes(JSON.stringify(path)),
    );
  }
  assert.throws(
    () => parseFieldPaths(["sandboxer"], rules, (p) => `cannot update ${p} on x`),
    /cannot update sandboxer on x: invalid argument/,
  );
});

test("applyMapKey copies or removes one key", () => {
  const to: Record<string, string> = { a: "1", b: "2" };
  applyMapKey(to, { a: "9" }, "a");
  applyMapKey(to, { a: "9" }, "b");
  assert.deepEqual(to, { a: "9" });
});

test("labels: key plus value at most 4096 bytes", () => {
  validateLabel("k", "v".repeat(4095));
  assert.throws(() => validateLabel("k", "v".repeat(4096)), isInvalidArgument);
  assert.throws(
    () => validateLabels({ "a-very-long-key": "é".repeat(2048) }, "containers.Labels"),
    (err: Error) =>
      isInvalidArgument(err) &&
      err.message ===
        "containers.Labels: label key and value greater than maximum size (4096 bytes), key: a-very-lon: invalid argument",
  );
});
