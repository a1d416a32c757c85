import assert from "node:assert/strict";
import { test } from "node:test";
import { hostnameOf } from "../sandboxer.js";
import { KeyedMutex, mapLimit } from "./mutex.js";

test("work on one key is serialised; other keys proceed", async () => {
  const m = new KeyedMutex();
  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const a1 = m.run("a", async () => {
    order.push("a1 start");
    await gate;
    order.push("a1 end");
  });
  const a2 = m.run("a", () => Promise.resolve(order.push("a2")));
  const b = m.run("b", () => Promise.resolve(order.push("b")));
  await b;
  assert.deepEqual(order, ["a1 start", "b"]);
  release();
  await Promise.all([a1, a2]);
  assert.deepEqual(order, ["a1 start", "b", "a1 end", "a2"]);
  await assert.rejects(
    m.run("a", () => Promise.reject(new Error("x"))),
    /x/,
  );
  assert.equal(await m.run("a", () => Promise.resolve(5)), 5);
});

test("mapLimit bounds concurrency and keeps every outcome", async () => {
  let running = 0;
  let peak = 0;
  const results = await mapLimit([1, 2, 3, 4, 5, 6], 2, async (n) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setImmediate(r));
    running--;
    if (n === 4) throw new Error("four");
    return n * 2;
  });
  assert.equal(peak, 2);
  assert.deepEqual(
    results.map((r) => (r.status === "fulfilled" ? r.value : "err")),
    [2, 4, 6, "err", 10, 12],
  );
});

test("pod hostnames are valid and at most 63 characters", () => {
  assert.equal(hostnameOf("Pod_1", undefined), "pod-1");
  assert.equal(hostnameOf("x", "web.example"), "web.example");
  assert.equal(hostnameOf("a".repeat(76), undefined).length, 63);
  assert.equal(hostnameOf("--", undefined), "sandbox");
});
