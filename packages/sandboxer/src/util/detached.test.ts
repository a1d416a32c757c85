import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { spawnDetached } from "./detached.js";

test("a detached helper leads its own session, gets the extra env, and is reaped when killed", async () => {
  const { child, pid } = await spawnDetached("sleep", ["60"], { SBX_TEST_MARK: "detached-1" });
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const [, , pgrp, session] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    assert.deepEqual([Number(pgrp), Number(session)], [pid, pid]);
    const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    assert.ok(environ.includes("SBX_TEST_MARK=detached-1"));
    assert.ok(
      environ.some((e) => e.startsWith("PATH=")),
      "the sandboxer's env is kept",
    );
    assert.equal(child.exited, false);
  } finally {
    child.kill("SIGKILL");
  }
  await child.gone;
  assert.equal(child.exited, true);
  assert.equal(child.exitCode, null);
  assert.throws(() => readFileSync(`/proc/${pid}/stat`), "no zombie left");
});

test("a missing program rejects", async () => {
  await assert.rejects(spawnDetached("/nonexistent/helper", []), /ENOENT/);
});
