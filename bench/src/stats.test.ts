import { test } from "node:test";
import assert from "node:assert/strict";
import { alternate, percentile, summarize } from "./stats.js";

test("percentiles use the nearest rank", () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 0.5), 50);
  assert.equal(percentile(xs, 0.99), 99);
  assert.equal(percentile([3, 1, 2], 0.5), 2);
  assert.ok(Number.isNaN(percentile([], 0.5)));
  assert.deepEqual(summarize([1, 2, 3]), { n: 3, median: 2, p99: 3, min: 1, max: 3, mean: 2 });
});

test("alternate interleaves the systems and drops warm-up rounds", async () => {
  const order: string[] = [];
  const samples = await alternate(
    {
      a: () => Promise.resolve(void order.push("a")),
      b: () => Promise.resolve(void order.push("b")),
    },
    2,
    1,
  );
  assert.deepEqual(order, ["a", "b", "a", "b", "a", "b"]);
  assert.equal(samples.a?.length, 2);
  assert.equal(samples.b?.length, 2);
});

test("alternate can rotate the order every round", async () => {
  const order: string[] = [];
  const once = (name: string) => () => Promise.resolve(void order.push(name));
  await alternate({ a: once("a"), b: once("b"), c: once("c") }, 3, 0, { rotate: true });
  assert.deepEqual(order, ["a", "b", "c", "b", "c", "a", "c", "a", "b"]);
});
