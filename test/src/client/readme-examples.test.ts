// packages/client/README.md's examples, run for real against sandboxd (root).
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { readmeExamples, runExample } from "@sandboxd/client/testing";
import { requireSandboxApi, startDaemon } from "./daemon.js";

const readme = fileURLToPath(new URL("../../../packages/client/README.md", import.meta.url));

test("the SDK README's examples run against sandboxd", async (t) => {
  const daemon = await startDaemon(t);
  if (!(await requireSandboxApi(t, daemon.address))) return;
  for (const example of await readmeExamples(readme)) {
    await t.test(example.title, async () => {
      await runExample(readme, example, {
        ...daemon.env,
        SANDBOXD_ADDRESS: daemon.address,
        TMPDIR: daemon.dir,
      });
    });
  }
});
