// Starting a created container: sbx-start (native/start.c) does what `runc start` does
// where scripts/setup.sh built it, and `runc start` does it where it is configured away.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { waitUntil } from "@sandboxd/testing";
import { bundle, sandboxerFixture, type Fixture } from "./helpers.js";

const helper = new URL("../../../packages/sandboxer/native/build/sbx-start", import.meta.url);

async function startsAndRuns(f: Fixture, id: string): Promise<void> {
  const ctl = f.controller();
  const tasks = f.tasks();
  await ctl.create({ sandboxId: `pod-${id}` });
  await ctl.start({ sandboxId: `pod-${id}` });
  const out = join(f.dir, `${id}.out`);
  await writeFile(out, "");
  const dir = await bundle(f, id, {
    args: ["/bin/sh", "-c", "echo ran"],
    sandboxId: `pod-${id}`,
  });
  await tasks.create({ id, bundle: dir, stdout: out, stderr: "" });
  const fifo = join(f.sbx.stateDir, "runc", "default", id, "exec.fifo");
  assert.equal(existsSync(fifo), true, "created: the init waits on its exec FIFO");
  const wait = tasks.wait({ id });
  await tasks.start({ id });
  assert.equal(existsSync(fifo), false, "started: the FIFO is gone");
  assert.equal((await wait).exitStatus, 0);
  assert.equal(await readFile(out, "utf8"), "ran\n");
  await assert.rejects(tasks.start({ id }), "a second start is refused");
  await tasks.delete({ id });
  await ctl.shutdown({ sandboxId: `pod-${id}` });
  await f.checkLeaks();
}

test(
  "a created container starts through sbx-start; a second start is refused",
  {
    skip: existsSync(helper) ? false : "sbx-start is not built (scripts/setup.sh builds it)",
  },
  async (t) => {
    const f = await sandboxerFixture(t, { network: false });
    await startsAndRuns(f, "helped");
  },
);

test('with [binaries] start = "" a created container starts through runc start', async (t) => {
  const f = await sandboxerFixture(t, { network: false, extra: '[binaries]\nstart = ""' });
  await startsAndRuns(f, "plain");
});

test("with no sbx-start where the config says, the sandboxer says so and starts through runc start", async (t) => {
  const f = await sandboxerFixture(t, {
    network: false,
    extra: `[binaries]\nstart = ${JSON.stringify(join(tmpdir(), "no-such-dir", "sbx-start"))}`,
  });
  await startsAndRuns(f, "fallback");
  assert.match(await f.sbx.log(), /sbx-start is missing/);
});

test("a start whose init was killed before it fails, and the task can still be removed", async (t) => {
  const f = await sandboxerFixture(t, { network: false });
  const ctl = f.controller();
  const tasks = f.tasks();
  await ctl.create({ sandboxId: "pod" });
  await ctl.start({ sandboxId: "pod" });
  const dir = await bundle(f, "doomed", { args: ["/bin/true"], sandboxId: "pod" });
  const { pid } = await tasks.create({ id: "doomed", bundle: dir, stdout: "", stderr: "" });
  process.kill(pid, "SIGKILL");
  await waitUntil(
    async () => !/\) [^ZX] /.test(await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "")),
    {
      timeoutMs: 30_000,
      what: "the init gone",
    },
  );
  // Whether the sandboxer saw the exit first or the start's own check did, no start.
  await assert.rejects(tasks.start({ id: "doomed" }));
  await tasks.delete({ id: "doomed" });
  await ctl.shutdown({ sandboxId: "pod" });
  await f.checkLeaks();
});
