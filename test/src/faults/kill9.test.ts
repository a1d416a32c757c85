// kill -9 during 20 concurrent pod creations (through sandboxd's Sandbox API,
// the sandboxer in proxy mode): of sandboxd, of the sandboxer, of a conmon,
// at a seeded random moment, a few rounds each. After restarting what was
// killed and letting recovery settle (bounded):
// - every object is consistent with what backs it: a sandbox row and the
//   sandboxer's pod go together, a task and its runc container go together,
//   no task is left UNKNOWN, a running task's process lives;
// - every pod is fully there (ready sandbox, container, running task, and an
//   exec in it works) or a consistent prefix of its creation (what a client
//   that died mid-way leaves) or fully gone;
// - every step a creation had acknowledged is still there (nothing
//   acknowledged is lost);
// - once everything sandboxd lists is removed through its API, nothing is
//   left: no pod in the sandboxer, no runc container, conmon, mount, netns
//   pin, cgroup, veth, CNI lease or bundle, no metadata row.
//
// Seeded: FAULT_SEED=<n> replays the kill moments and victims.
// FAULT_KILL_ROUNDS=<n> (default 3) rounds per victim.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { waitUntil } from "@sandboxd/testing";
import { Rng, faultSeed, replay } from "./random.js";
import { startStack, type Stack } from "./stack.js";
import type { Attempt, Verdict } from "./kill9-invariants.js";
import { createPod, settleAndCheck } from "./kill9-round.js";

const PODS = 20;
const ROUNDS = Number(process.env.FAULT_KILL_ROUNDS ?? 3);
const NS = "k9";

type Victim = "sandboxd" | "sandboxer" | "conmon";

/** Live conmons of the sandboxer: pid and the container (or exec) id they monitor. */
async function conmonsOf(stack: Stack): Promise<{ pid: number; cid: string }[]> {
  const out: { pid: number; cid: string }[] = [];
  for (const e of await readdir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const argv = (await readFile(`/proc/${e}/cmdline`, "utf8").catch(() => "")).split("\0");
    if (argv[0] !== "/usr/bin/conmon" || !argv.some((a) => a.includes(stack.sandboxer.stateDir)))
      continue;
    out.push({ pid: Number(e), cid: argv[argv.indexOf("-c") + 1] ?? "" });
  }
  return out;
}

interface Strike {
  what: string;
  /** The container whose monitor was killed (conmon victim). */
  monitorOf?: string;
}

/** Kills the victim at `delayMs` after the creations began; restarts it. */
async function strike(stack: Stack, victim: Victim, delayMs: number, rng: Rng): Promise<Strike> {
  // Not a wait for anything: the seeded moment of the fault, somewhere in the creations.
  await sleep(delayMs);
  switch (victim) {
    case "sandboxd":
      await stack.restartSandboxd();
      return { what: `sandboxd killed at ${delayMs} ms and restarted` };
    case "sandboxer":
      await stack.sandboxer.kill("SIGKILL");
      await stack.sandboxer.restart();
      return { what: `sbx-sandboxer killed at ${delayMs} ms and restarted` };
    case "conmon": {
      // One of the monitors that exist from then on (some of them mid-create; one that
      // exits before the signal lands is passed over).
      const victimConmon = await waitUntil(
        async () => {
          const found = await conmonsOf(stack);
          if (found.length === 0) return undefined;
          const pick = rng.pick(found);
          try {
            process.kill(pick.pid, "SIGKILL");
            return pick;
          } catch {
            return undefined;
          }
        },
        { timeoutMs: 30_000, what: "a conmon to kill" },
      );
      return {
        what: `conmon ${victimConmon.pid} (of ${victimConmon.cid}) killed at ≥ ${delayMs} ms`,
        monitorOf: victimConmon.cid,
      };
    }
  }
}

async function round(
  t: { diagnostic(s: string): void },
  stack: Stack,
  victim: Victim,
  r: number,
  rng: Rng,
): Promise<Record<Verdict, number>> {
  const client = await stack.client(NS);
  await client.namespaces
    .create(NS, { "containerd.io/defaults/sandboxer": "sbx" })
    .catch(() => undefined);
  const attempts: Attempt[] = Array.from({ length: PODS }, (_, i) => ({
    id: `${victim}-${r}-${i}`,
    steps: [],
    acknowledged: false,
  }));
  const delay = 20 + rng.int(victim === "conmon" ? 800 : 2500);
  const creating = Promise.all(attempts.map((a) => createPod(client, NS, stack.rootfs, a)));
  const hit = await strike(stack, victim, delay, rng);
  await creating;
  const acked = attempts.filter((a) => a.acknowledged).length;
  const ctx = `${hit.what}; ${replay()}`;
  t.diagnostic(`${victim} round ${r}: ${hit.what}; ${acked}/${PODS} creations acknowledged`);

  const counts = await settleAndCheck(t, stack, NS, attempts, hit.monitorOf, ctx, rng);
  return counts;
}

for (const victim of ["sandboxd", "sandboxer", "conmon"] as const) {
  void test(`kill -9 of ${victim} during ${PODS} concurrent pod creations, ${ROUNDS} rounds`, async (t) => {
    const stack = await startStack(t, { network: true, sweepIntervalMs: 500 });
    assert.ok(await stack.sandboxApi(), "sandboxd must serve the Sandbox API");
    const rng = Rng.for(`kill9-${victim}`);
    const total: Record<Verdict, number> = { there: 0, prefix: 0, gone: 0 };
    for (let r = 0; r < ROUNDS; r++) {
      const counts = await round(t, stack, victim, r, rng);
      for (const k of Object.keys(total) as Verdict[]) total[k] += counts[k];
    }
    t.diagnostic(`seed ${faultSeed}: ${JSON.stringify(total)} over ${ROUNDS * PODS} attempts`);
  });
}
