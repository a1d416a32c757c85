import { test } from "node:test";
import assert from "node:assert/strict";
import { isCanceled, isDeadlineExceeded, isUnknown } from "@sandboxd/errdefs";
import { background, withSignal, withTimeout } from "../context/context.js";
import { exitText, run, runChecked } from "./process.js";

test("run collects output and input, whatever the exit code", async () => {
  const r = await run(background(), "sh", ["-c", "cat; echo err >&2; exit 3"], { input: "in" });
  assert.equal(r.code, 3);
  assert.equal(r.stdout, "in");
  assert.equal(r.stderr, "err\n");
  assert.equal(r.bytes.combined.toString(), "inerr\n");
  assert.equal(exitText(r), "exit status 3");
  assert.equal(exitText({ code: null, signal: "SIGKILL" }), "signal: killed");
});

test("runChecked names the command and its stderr on a non-zero exit", async () => {
  assert.equal(await runChecked(background(), "echo", ["hi"]), "hi\n");
  await assert.rejects(runChecked(background(), "sh", ["-c", "echo bad >&2; exit 2"]), (e) => {
    assert.ok(isUnknown(e));
    assert.match(
      e instanceof Error ? e.message : String(e),
      /^sh -c echo bad >&2; exit 2: exit status 2: bad/,
    );
    return true;
  });
});

test("a missing program, a timeout and a cancellation are typed and name the command", async () => {
  await assert.rejects(run(background(), "/nonexistent/prog", []), (e) => {
    assert.ok(isUnknown(e));
    assert.match(String(e), /\/nonexistent\/prog: cannot start/);
    return true;
  });
  await assert.rejects(run(background(), "sleep", ["60"], { timeoutMs: 20 }), (e) => {
    assert.ok(isDeadlineExceeded(e));
    assert.match(String(e), /sleep 60: timed out/);
    return true;
  });
  const controller = new AbortController();
  const running = run(withSignal(background(), controller.signal), "sleep", ["60"]);
  setImmediate(() => controller.abort());
  await assert.rejects(running, (e) => isCanceled(e) && /sleep 60/.test(String(e)));
  const { ctx, done } = withTimeout(background(), 20);
  await assert.rejects(run(ctx, "sleep", ["60"]), (e) => isDeadlineExceeded(e));
  done();
});
