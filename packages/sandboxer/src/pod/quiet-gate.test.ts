import assert from "node:assert/strict";
import { test } from "node:test";
import { QuietGate } from "./quiet-gate.js";

/** Whether `p` has settled by the time the current macrotask queue drains. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
}

test("quiet at once when nothing ran", async () => {
  assert.equal(await settled(new QuietGate(10_000).quiet), true);
});

test("not quiet while busy, nor in the quiet time after; quiet once it passed", async () => {
  const gate = new QuietGate(30);
  let finish!: () => void;
  const running = gate.busy(() => new Promise<void>((r) => (finish = r)));
  const quiet = gate.quiet;
  assert.equal(await settled(quiet), false, "busy");
  finish();
  await running;
  const ended = Date.now();
  assert.equal(await settled(quiet), false, "just ended");
  await quiet;
  assert.ok(Date.now() - ended >= 25, "waited the quiet time");
});

test("a call within the quiet time postpones it; the waiter of the first wait still wakes", async () => {
  const gate = new QuietGate(40);
  await gate.busy(() => Promise.resolve());
  const first = gate.quiet;
  let finish!: () => void;
  const second = gate.busy(() => new Promise<void>((r) => (finish = r)));
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(await settled(first), false, "still busy after the first quiet time");
  finish();
  await second;
  await first;
});

test("open: quiet for good, busy or not", async () => {
  const gate = new QuietGate(10_000);
  let finish!: () => void;
  const running = gate.busy(() => new Promise<void>((r) => (finish = r)));
  const quiet = gate.quiet;
  gate.open();
  assert.equal(await settled(quiet), true);
  await gate.busy(() => Promise.resolve());
  assert.equal(await settled(gate.quiet), true);
  finish();
  await running;
});
