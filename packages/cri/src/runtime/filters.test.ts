import assert from "node:assert/strict";
import { test } from "node:test";
import { idMatches, labelsMatch, resolveId } from "./filters.js";
import { parseNetDev } from "./netdev.js";

test("a filter id is resolved as a unique prefix, then compared exactly", () => {
  const ids = ["abc123", "abd456", "xyz789"];
  assert.equal(resolveId("", ids), "");
  assert.equal(resolveId("abc123", ids), "abc123");
  assert.equal(resolveId("abc", ids), "abc123");
  assert.equal(resolveId("x", ids), "xyz789");
  // Ambiguous: kept as given, so it matches no id exactly.
  const ab = resolveId("ab", ids);
  assert.deepEqual(
    ids.filter((id) => idMatches(id, ab)),
    [],
  );
  assert.deepEqual(
    ids.filter((id) => idMatches(id, resolveId("", ids))),
    ids,
  );
});

test("a label selector needs every key with its value", () => {
  assert.ok(labelsMatch({ a: "1", b: "2" }, { a: "1" }));
  assert.ok(labelsMatch({ a: "1" }, {}));
  assert.ok(labelsMatch({ a: "1" }, undefined));
  assert.ok(!labelsMatch({ a: "1" }, { a: "2" }));
  assert.ok(!labelsMatch({ a: "1" }, { a: "1", b: "2" }));
});

test("/proc/net/dev: counters per interface, loopback left out", () => {
  const text = [
    "Inter-|   Receive                                                |  Transmit",
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
    "    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0",
    "  eth0:    5000      40    1    2    0     0          0         0     3000      30    3    4    0     0       0          0",
    "",
  ].join("\n");
  assert.deepEqual(parseNetDev(text), [
    {
      name: "eth0",
      rxBytes: 5000n,
      rxPackets: 40n,
      rxErrors: 1n,
      rxDropped: 2n,
      txBytes: 3000n,
      txPackets: 30n,
      txErrors: 3n,
      txDropped: 4n,
    },
  ]);
});
