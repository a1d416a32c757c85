import assert from "node:assert/strict";
import { test } from "node:test";
import { isInvalidArgument } from "@sandboxd/errdefs";
import {
  DEFAULT_CAPABILITIES,
  applyCapabilities,
  capabilitiesOfMask,
  capabilityName,
  currentCapabilities,
} from "./defaults.js";

const all = ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN", "CAP_NET_ADMIN"];

test("applyCapabilities: containerd's CRI order (ALL first, then names)", () => {
  assert.deepEqual(applyCapabilities(DEFAULT_CAPABILITIES, {}, all), [...DEFAULT_CAPABILITIES]);
  assert.deepEqual(applyCapabilities(["CAP_CHOWN"], { add: ["sys_admin", "CAP_KILL"] }, all), [
    "CAP_CHOWN",
    "CAP_SYS_ADMIN",
    "CAP_KILL",
  ]);
  assert.deepEqual(applyCapabilities(["CAP_CHOWN", "CAP_KILL"], { drop: ["CHOWN"] }, all), [
    "CAP_KILL",
  ]);
  assert.deepEqual(applyCapabilities(["CAP_CHOWN"], { add: ["ALL"] }, all), all);
  assert.deepEqual(applyCapabilities(["CAP_CHOWN"], { add: ["ALL"], drop: ["CHOWN"] }, all), [
    "CAP_KILL",
    "CAP_SYS_ADMIN",
    "CAP_NET_ADMIN",
  ]);
  assert.deepEqual(applyCapabilities(DEFAULT_CAPABILITIES, { drop: ["all"] }, all), []);
  assert.deepEqual(
    applyCapabilities(DEFAULT_CAPABILITIES, { drop: ["ALL"], add: ["NET_ADMIN"] }, all),
    ["CAP_NET_ADMIN"],
  );
  assert.throws(
    () => applyCapabilities([], { add: ["FLY"] }, all),
    (e) => isInvalidArgument(e) && /FLY/.test(String(e)),
  );
});

test("capability names and masks", () => {
  assert.equal(capabilityName("net_raw"), "CAP_NET_RAW");
  assert.equal(capabilityName("CAP_BPF"), "CAP_BPF");
  assert.deepEqual(capabilitiesOfMask("200001"), ["CAP_CHOWN", "CAP_SYS_ADMIN"]);
  // This process (root in CI) has at least the default set.
  const mine = currentCapabilities();
  if (process.getuid?.() === 0)
    for (const c of DEFAULT_CAPABILITIES) assert.ok(mine.includes(c), c);
});
