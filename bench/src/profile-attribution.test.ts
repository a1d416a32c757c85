import { test } from "node:test";
import assert from "node:assert/strict";
import { rpcsOfLog } from "./profile-attribution.js";

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
  assert.equal(rpcs[0]!.endMs, Date.parse("2026-11-24T18:44:53.377Z") - offset);
  assert.equal(rpcs[0]!.endMs - rpcs[0]!.startMs, 2.5);
  assert.equal(rpcs[1]!.method, "tasks.Tasks/Start");
  assert.equal(rpcs[1]!.startMs, 1795545893400 - offset - 10);
});
