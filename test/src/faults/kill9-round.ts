// One kill -9 round's shared steps: the pod creations, and after the fault the
// settling, judging (kill9-invariants.ts), exec check and full removal.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Client } from "@sandboxd/client";
import { defaultSpec, execProcess } from "@sandboxd/client";
import { messageOf } from "@sandboxd/errdefs";
import { Channel } from "@sandboxd/grpc";
import { waitUntil } from "@sandboxd/testing";
import type { Rng } from "./random.js";
import type { Stack } from "./stack.js";
import {
  assertNothingLeft,
  describeObserved,
  judgeAll,
  type Attempt,
  type Judged,
  type Verdict,
} from "./kill9-invariants.js";

export const CALL = { timeoutMs: 60_000 };
/** How long recovery may take to settle every pod into a consistent state. */
const SETTLE_MS = 30_000;
/** Pods per round that get an exec, to show "there" means working. */
const EXEC_SAMPLE = 3;

/** One pod the way `sbx run -d` makes it; records how far it got (`beforeTask`: hold there). */
export async function createPod(
  client: Client,
  ns: string,
  rootfs: string,
  a: Attempt,
  beforeTask?: Promise<void>,
): Promise<void> {
  try {
    const sandbox = await client.newSandbox(a.id, {}, CALL);
    a.steps.push("sandbox");
    await sandbox.start(CALL);
    a.steps.push("started");
    const container = await sandbox.newContainer(
      a.id,
      {
        spec: defaultSpec({
          id: a.id,
          namespace: ns,
          args: ["/bin/sleep", "100000"],
          rootfs,
          readonlyRootfs: true,
          hostname: a.id,
        }),
      },
      CALL,
    );
    a.steps.push("container");
    await beforeTask;
    const task = await container.newTask({}, CALL);
    a.steps.push("task");
    await task.start(CALL);
    a.steps.push("running");
    a.acknowledged = true;
  } catch (err) {
    a.error = messageOf(err);
  }
}

/** An exec of `/bin/true` in the pod's container exits 0. */
async function execWorks(
  stack: Stack,
  ns: string,
  client: Client,
  id: string,
  n: number,
): Promise<void> {
  const container = await client.loadContainer(id, CALL);
  const task = await container.task({}, CALL);
  const proc = await task.exec(
    `k9-exec-${n}`,
    execProcess(await container.spec(CALL), { args: ["/bin/true"] }),
    {},
    CALL,
  );
  const exited = proc.wait(CALL);
  await proc.start(CALL);
  const status = await exited;
  if (status.exitStatus !== 0) {
    // What the sandboxer and conmon recorded, for the failure message.
    const dir = join(stack.sandboxer.stateDir, "sandboxes", ns, id, "containers", id, "execs");
    const files: string[] = [];
    for (const e of await readdir(dir).catch(() => [])) {
      for (const f of ["exec.json", "exit", "runc.log"]) {
        const text = await readFile(join(dir, e, f), "utf8").catch(() => "(none)");
        files.push(`${e}/${f}: ${text.slice(0, 600)}`);
      }
    }
    assert.fail(`exec in ${id} exited ${status.exitStatus}:\n${files.join("\n")}`);
  }
  await proc.delete(CALL);
}

/**
 * After a fault: waits (bounded) for every pod to settle consistently, asserts
 * each is there, a prefix of its creation or gone, checks an exec in a few that
 * are there, then removes everything and asserts nothing is left.
 */
export async function settleAndCheck(
  t: { diagnostic(s: string): void },
  stack: Stack,
  ns: string,
  attempts: Attempt[],
  monitorOf: string | undefined,
  ctx: string,
  rng: Rng,
): Promise<Record<Verdict, number>> {
  // sandboxd's view after the restart (a fresh connection; the old one may be dead).
  const channel = new Channel(stack.sandboxd.address, {
    metadata: { "containerd-namespace": ns },
  });
  const counts: Record<Verdict, number> = { there: 0, prefix: 0, gone: 0 };
  try {
    // Recovery settles within a bound: the sandboxer's monitor sweep, sandboxd's reconnects.
    let judged = new Map<string, Judged>();
    await waitUntil(
      async () => {
        judged = await judgeAll(stack, ns, channel, attempts, monitorOf);
        return [...judged.values()].every((j) => j.problems.length === 0);
      },
      { timeoutMs: SETTLE_MS, intervalMs: 250, what: "every pod to settle" },
    ).catch(() => undefined);
    const problems: string[] = [];
    for (const a of attempts) {
      const j = judged.get(a.id)!;
      const got = `got to ${a.steps.at(-1) ?? "nothing"}${a.error ? ` (${a.error})` : ""}`;
      if (j.problems.length) {
        problems.push(`${a.id}, ${got}: ${j.problems.join("; ")}: ${describeObserved(j.o)}`);
        continue;
      }
      counts[j.verdict!]++;
      if (j.verdict === "prefix") t.diagnostic(`  ${a.id} ${got}: left ${describeObserved(j.o)}`);
    }
    assert.deepEqual(problems, [], `inconsistent pods after ${ctx}`);

    // "There" means working: an exec in a few of them.
    const there = attempts.filter(
      (a) => judged.get(a.id)?.verdict === "there" && a.id !== monitorOf,
    );
    const sample = rng.shuffle(there).slice(0, EXEC_SAMPLE);
    const c = await stack.client(ns);
    await Promise.all(sample.map((a, i) => execWorks(stack, ns, c, a.id, i)));
  } finally {
    channel.close();
  }

  // Removing what sandboxd lists removes everything: no orphan without a row.
  await assertNothingLeft(stack, ns, ctx);
  return counts;
}
