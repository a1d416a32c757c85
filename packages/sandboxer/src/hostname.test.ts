import assert from "node:assert/strict";
import { test } from "node:test";
import { hostnameOf } from "./sandboxer.js";

test("pod hostnames are valid and at most 63 characters", () => {
  assert.equal(hostnameOf("Pod_1", undefined), "pod-1");
  assert.equal(hostnameOf("x", "web.example"), "web.example");
  assert.equal(hostnameOf("a".repeat(76), undefined).length, 63);
  assert.equal(hostnameOf("--", undefined), "sandbox");
});
