import { test } from "node:test";
import assert from "node:assert/strict";
import { bigLayerEntries } from "./bench-images.js";
import { alternateWithReset } from "./rounds.js";

test("alternateWithReset rotates the order, resets after every run, drops warm-up rounds", async () => {
  const log: string[] = [];
  const system = (name: string) => ({
    once: () => Promise.resolve(void log.push(name)),
    reset: () => Promise.resolve(void log.push(`${name}-reset`)),
  });
  const samples = await alternateWithReset({ a: system("a"), b: system("b") }, 2, 1);
  assert.deepEqual(log, [
    "a",
    "a-reset",
    "b",
    "b-reset",
    "b",
    "b-reset",
    "a",
    "a-reset",
    "a",
    "a-reset",
    "b",
    "b-reset",
  ]);
  assert.equal(samples.a?.length, 2);
  assert.equal(samples.b?.length, 2);
});

test("the unpack layer is issue 11's size: ~9,000 files, ~20 MB, the same every run", () => {
  const entries = bigLayerEntries();
  const files = entries.filter((e) => e.data !== undefined);
  const bytes = files.reduce((n, e) => n + (e.data?.length ?? 0), 0);
  assert.equal(files.length, 9000);
  assert.ok(bytes > 19e6 && bytes < 22e6, `${bytes} bytes`);
  const again = bigLayerEntries();
  assert.deepEqual(again[500], entries[500]);
});
