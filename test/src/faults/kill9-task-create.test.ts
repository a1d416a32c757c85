// kill -9 of sandboxd in the middle of Tasks.Create: 20 pods are made up to
// their container, then their tasks are created at once and sandboxd is
// killed when a seeded number of task bundles exist (some creates done, some
// half-way, some not begun). After the restart every pod must be there, a
// prefix of its creation or gone, with the same invariants as kill9.test.ts:
// in particular no task STOPPED that nobody stopped, none left UNKNOWN, and
// no task without its runc container (a create cut off must converge to
// fully there or gone; FAULT_SEED=2060059722 once left six STOPPED pid-0
// tasks). Seeded: FAULT_SEED=<n>; FAULT_KILL_ROUNDS=<n> rounds (default 3).
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { waitUntil } from "@sandboxd/testing";
import { Rng, faultSeed, replay } from "./random.js";
import { startStack, type Stack } from "./stack.js";
import type { Attempt, Verdict } from "./kill9-invariants.js";
import { createPod, settleAndCheck } from "./kill9-round.js";

const PODS = 20;
const ROUNDS = Number(process.env.FAULT_KILL_ROUNDS ?? 3);
const NS = "k9t";

async function bundleCount(stack: Stack): Promise<number> {
  const dir = join(stack.sandboxd.state, "io.containerd.runtime.v2.task", NS);
  return (await readdir(dir).catch(() => [])).length;
}

async function round(
  t: { diagnostic(s: string): void },
  stack: Stack,
  r: number,
  rng: Rng,
): Promise<Record<Verdict, number>> {
  const client = await stack.client(NS);
  await client.namespaces
    .create(NS, { "containerd.io/defaults/sandboxer": "sbx" })
    .catch(() => undefined);
  const attempts: Attempt[] = Array.from({ length: PODS }, (_, i) => ({
    id: `task-${r}-${i}`,
    steps: [],
    acknowledged: false,
  }));
  let release!: () => void;
  const tasksMayStart = new Promise<void>((resolve) => (release = resolve));
  const creating = Promise.all(
    attempts.map((a) => createPod(client, NS, stack.rootfs, a, tasksMayStart)),
  );
  await waitUntil(() => attempts.every((a) => a.steps.includes("container") || a.error), {
    timeoutMs: 300_000,
    what: "every pod made up to its container",
  });
  const unprepared = attempts.filter((a) => a.error);
  assert.deepEqual(
    unprepared.map((a) => `${a.id}: ${a.error}`),
    [],
    "pods fail before any fault",
  );

  // The fault: once `after` task bundles exist, i.e. while Tasks.Create calls are in flight.
  const after = 1 + rng.int(PODS);
  release();
  const seen = await waitUntil(
    async () => {
      const n = await bundleCount(stack);
      return n >= after ? n : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 2, what: `${after} task bundles` },
  ).catch(() => -1);
  await stack.restartSandboxd();
  await creating;
  const what = `sandboxd killed with ${seen} task bundles (aimed at ${after}) and restarted`;
  const acked = attempts.filter((a) => a.acknowledged).length;
  t.diagnostic(`round ${r}: ${what}; ${acked}/${PODS} creations acknowledged`);
  return settleAndCheck(t, stack, NS, attempts, undefined, `${what}; ${replay()}`, rng);
}

void test(`kill -9 of sandboxd during ${PODS} concurrent Tasks.Create calls, ${ROUNDS} rounds`, async (t) => {
  const stack = await startStack(t, { network: true, sweepIntervalMs: 500 });
  assert.ok(await stack.sandboxApi(), "sandboxd must serve the Sandbox API");
  const rng = Rng.for("kill9-task-create");
  const total: Record<Verdict, number> = { there: 0, prefix: 0, gone: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    const counts = await round(t, stack, r, rng);
    for (const k of Object.keys(total) as Verdict[]) total[k] += counts[k];
  }
  t.diagnostic(`seed ${faultSeed}: ${JSON.stringify(total)} over ${ROUNDS * PODS} attempts`);
});
