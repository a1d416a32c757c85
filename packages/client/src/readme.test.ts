// The README's examples, run for real against the fake daemon (no root).
// test/src/client/readme-examples.test.ts runs them against sandboxd.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readmeExamples, runExample, startFakeDaemon } from "./testing/index.js";

const readme = fileURLToPath(new URL("../README.md", import.meta.url));

test("the README's examples run", async (t) => {
  const examples = await readmeExamples(readme);
  assert.ok(examples.length >= 4, "the README has examples");
  const dir = await mkdtemp(join(tmpdir(), "sbx-readme-"));
  const daemon = await startFakeDaemon({ dir });
  t.after(async () => {
    await daemon.close();
    await rm(dir, { recursive: true, force: true });
  });
  for (const example of examples) {
    await t.test(example.title, async () => {
      await runExample(readme, example, { SANDBOXD_ADDRESS: daemon.address, TMPDIR: dir });
    });
  }
});
