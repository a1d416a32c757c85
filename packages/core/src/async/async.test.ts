import { test } from "node:test";
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { KeyedMutex, abortable, mapLimit, sleep } from "./async.js";

test("sleep resolves true after the time, false as soon as the signal fires", async () => {
  assert.equal(await sleep(1), true);
  const controller = new AbortController();
  const waiting = sleep(60_000, controller.signal);
  controller.abort();
  assert.equal(await waiting, false);
  assert.equal(await sleep(60_000, controller.signal), false);
  assert.equal(getEventListeners(controller.signal, "abort").length, 0);
});

test("abortable rejects with the signal's reason and removes its listener", async () => {
  const controller = new AbortController();
  assert.equal(await abortable(Promise.resolve(7), controller.signal), 7);
  await assert.rejects(abortable(Promise.reject(new Error("boom")), controller.signal), /boom/);
  assert.equal(getEventListeners(controller.signal, "abort").length, 0);
  const never = new Promise<never>(() => undefined);
  const waiting = abortable(never, controller.signal);
  controller.abort(new Error("stop"));
  await assert.rejects(waiting, /stop/);
  await assert.rejects(abortable(never, controller.signal), /stop/);
  const plain = new AbortController();
  plain.abort();
  await assert.rejects(abortable(never, plain.signal), { name: "AbortError" });
});

test("KeyedMutex serialises one key and lets other keys run", async () => {
  const mutex = new KeyedMutex();
  const order: string[] = [];
  let releaseFirst!: () => void;
  const gate = new Promise<void>((resolve) => (releaseFirst = resolve));
  const first = mutex.run("a", async () => {
    order.push("a1 start");
    await gate;
    order.push("a1 end");
  });
  const second = mutex.run("a", () => Promise.resolve(void order.push("a2")));
  await mutex.run("b", () => Promise.resolve(void order.push("b")));
  assert.deepEqual(order, ["a1 start", "b"]);
  assert.ok(mutex.busy("a"));
  releaseFirst();
  await Promise.all([first, second]);
  assert.deepEqual(order, ["a1 start", "b", "a1 end", "a2"]);
  assert.ok(!mutex.busy("a"));
  await assert.rejects(
    mutex.run("a", () => Promise.reject(new Error("x"))),
    /x/,
  );
  assert.equal(await mutex.run("a", () => Promise.resolve(1)), 1);
});

test("mapLimit keeps at most `limit` running and reports every outcome in order", async () => {
  let running = 0;
  let peak = 0;
  const results = await mapLimit([1, 2, 3, 4, 5, 6], 2, async (n) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((resolve) => setImmediate(resolve));
    running--;
    if (n === 3) throw new Error("three");
    return n * 10;
  });
  assert.equal(peak, 2);
  assert.deepEqual(
    results.map((r) => (r.status === "fulfilled" ? r.value : "failed")),
    [10, 20, "failed", 40, 50, 60],
  );
  assert.deepEqual(await mapLimit([], 4, () => Promise.resolve(1)), []);
});
