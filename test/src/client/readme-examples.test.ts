// packages/client/README.md's examples, run for real against sandboxd (root).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Client } from "@sandboxd/client";
import { readmeExamples, runExample, startStack } from "@sandboxd/testing";
import { sbxStack } from "./daemon.js";

const readme = fileURLToPath(new URL("../../../packages/client/README.md", import.meta.url));
const packageDir = fileURLToPath(new URL("../../../packages/client/", import.meta.url));

/** What each example must print (its key lines). */
const expected: Record<string, RegExp> = {
  Connect: /^sandboxd \S+ \(\S*\)\n$/,
  "Run a container in a sandbox": /hello from hello-pod \(exit status 0\)\n$/,
  "Exec, signals, metrics, cleanup in one go":
    /exec exited 0: \d+ entries\nmetrics \(cgroup v[12]\) for server\nserver exited 0\n$/,
  Errors: /^sandbox "no-such-sandbox": not found\n$/,
  Events: /^(.+\n)*$/,
};

test("the SDK README's examples run against sandboxd", async (t) => {
  const daemon = await startStack(t, sbxStack);
  const env = { ...daemon.env, SANDBOXD_ADDRESS: daemon.address, TMPDIR: daemon.dir };
  const examples = await readmeExamples(readme);
  assert.deepEqual(
    examples.map((e) => e.title),
    Object.keys(expected),
  );
  const client = await Client.connect({ address: daemon.address, namespace: "example" });
  t.after(() => Promise.resolve(client.close()));
  for (const example of examples) {
    await t.test(example.title, async () => {
      const { stdout } = await runExample(readme, example, env, { tmpDir: daemon.dir });
      assert.match(stdout, expected[example.title]!);
      // Each example cleans up after itself.
      assert.deepEqual(
        (await client.sandboxes()).map((s) => s.id),
        [],
      );
      assert.deepEqual(
        (await client.containers()).map((c) => c.id),
        [],
      );
    });
  }
  const strays = (await readdir(packageDir)).filter((f) => f.startsWith(".example-"));
  assert.deepEqual(strays, [], "no example directory is left in the package");
});
