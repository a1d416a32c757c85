import { test } from "node:test";
import assert from "node:assert/strict";
import { rpcsOfLog, within } from "./profile-attribution.js";

test("reads RPCs and their start and end from sandboxd's debug log", () => {
  const log = [
    '{"level":"info","time":"2026-11-24T18:44:53.041Z","msg":"sandboxd serving"}',
    '{"level":"debug","time":"2026-11-24T18:44:53.377Z","method":"/containerd.services.sandbox.v1.Store/Create","duration_ms":2.5,"msg":"rpc"}',
    '{"level":"debug","time":1795545893400,"method":"/containerd.services.tasks.v1.Tasks/Start","duration_ms":10,"msg":"rpc"}',
    "garbage",
  ].join("\n");
  const offset = 1_000;
  const rpcs = rpcsOfLog(log, offset);
  assert.equal(rpcs.length, 2);
  assert.equal(rpcs[0]!.method, "sandbox.Store/Create");
  assert.equal(rpcs[0]!.endMs, Date.parse("2026-11-24T18:44:53.377Z") + 0.5 - offset);
  assert.equal(rpcs[0]!.endMs - rpcs[0]!.startMs, 2.5);
  assert.equal(rpcs[1]!.method, "tasks.Tasks/Start");
  assert.equal(rpcs[1]!.startMs, 1795545893400 + 0.5 - offset - 10);
});

test("an RPC belongs to the one window that holds its midpoint", () => {
  const r = { method: "m", startMs: 9, endMs: 12 };
  assert.equal(within(r, [0, 10]), false);
  assert.equal(within(r, [10, 20]), true);
  assert.equal(within(r, [10.5, 20]), true);
  assert.equal(within(r, [11, 20]), false);
});
