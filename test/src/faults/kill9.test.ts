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
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { Containers } from "@sandboxd/api/services/containers/v1/containers_pb";
import { Controller, Store } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Tasks } from "@sandboxd/api/services/tasks/v1/tasks_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { Sandboxer } from "@sandboxd/api/sandboxd/sandboxer/v1/sandboxer_pb";
import type { Client } from "@sandboxd/client";
import { defaultSpec, execProcess } from "@sandboxd/client";
import { Code, codeOf, kindOf } from "@sandboxd/errdefs";
import { Channel } from "@sandboxd/grpc";
import { processAlive, waitUntil } from "@sandboxd/testing";
import { connect, createClient } from "@sandboxd/ttrpc";
import { Rng, faultSeed, replay } from "./random.js";
import { removeAll, sandboxerPods, startStack, type Stack } from "./stack.js";

const PODS = 20;
const ROUNDS = Number(process.env.FAULT_KILL_ROUNDS ?? 3);
const NS = "k9";
const CALL = { timeoutMs: 60_000 };
/** How long recovery may take to settle every pod into a consistent state. */
const SETTLE_MS = 30_000;
/** Pods per round that get an exec, to show "there" means working. */
const EXEC_SAMPLE = 3;

const STEPS = ["sandbox", "started", "container", "task", "running"] as const;
type Step = (typeof STEPS)[number];

interface Attempt {
  id: string;
  /** Steps whose call returned success. */
  steps: Step[];
  acknowledged: boolean;
  error?: string;
}

/** One pod the way `sbx run -d` makes it; records how far it got. */
async function createPod(client: Client, rootfs: string, a: Attempt): Promise<void> {
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
          namespace: NS,
          args: ["/bin/sleep", "100000"],
          rootfs,
          readonlyRootfs: true,
          hostname: a.id,
        }),
      },
      CALL,
    );
    a.steps.push("container");
    const task = await container.newTask({}, CALL);
    a.steps.push("task");
    await task.start(CALL);
    a.steps.push("running");
    a.acknowledged = true;
  } catch (err) {
    a.error = (err as Error).message;
  }
}

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

function statusName(s: Status): string {
  return Object.entries(Status).find(([, v]) => v === s)?.[0] ?? String(s);
}

/** What backs one pod, through sandboxd's API and on the sandboxer's side. */
interface Observed {
  store: boolean;
  /** Controller.Status through sandboxd: a state, "notfound", or "error: ...". */
  state: string;
  podOnDisk: boolean;
  container: boolean;
  task?: { status: Status; pid: number };
  /** runc's status of the container in the sandboxer's runc root, if it exists. */
  runc?: string;
  pidAlive: boolean;
}

function describeObserved(o: Observed): string {
  const task = o.task ? `${statusName(o.task.status)} pid ${o.task.pid}` : "none";
  return `store=${o.store} state=${o.state} sandboxer-pod=${o.podOnDisk} container=${o.container} task=${task} runc=${o.runc ?? "none"} alive=${o.pidAlive}`;
}

async function exists(call: Promise<unknown>): Promise<boolean> {
  try {
    await call;
    return true;
  } catch (err) {
    if (codeOf(kindOf(err)) === Code.NotFound) return false;
    throw err;
  }
}

/** `runc list` of the sandboxer's runc root for NS: id → status. */
async function runcStates(stack: Stack): Promise<Map<string, string>> {
  const { execFile } = await import("node:child_process");
  const root = join(stack.sandboxer.stateDir, "runc", NS);
  const out = await new Promise<string>((resolve) =>
    execFile("runc", ["--root", root, "list", "-f", "json"], (err, stdout) =>
      resolve(err ? "null" : stdout || "null"),
    ),
  );
  const list = JSON.parse(out) as { id: string; status: string }[] | null;
  return new Map((list ?? []).map((c) => [c.id, c.status]));
}

async function observe(
  stack: Stack,
  channel: Channel,
  id: string,
  runc: Map<string, string>,
): Promise<Observed> {
  const call = { timeoutMs: 10_000 };
  const store = await exists(channel.client(Store).get({ sandboxId: id }, call));
  let state = "notfound";
  if (store) {
    try {
      state = (await channel.client(Controller).status({ sandboxId: id }, call)).state;
    } catch (err) {
      state =
        codeOf(kindOf(err)) === Code.NotFound ? "notfound" : `error: ${(err as Error).message}`;
    }
  }
  const container = await exists(channel.client(Containers).get({ id }, call));
  let task: Observed["task"];
  try {
    const r = await channel.client(Tasks).get({ containerId: id }, call);
    task = r.process && { status: r.process.status, pid: r.process.pid };
  } catch (err) {
    if (codeOf(kindOf(err)) !== Code.NotFound) throw err;
  }
  return {
    store,
    state,
    podOnDisk: existsSync(join(stack.sandboxer.stateDir, "sandboxes", NS, id)),
    container,
    ...(task ? { task } : {}),
    ...(runc.has(id) ? { runc: runc.get(id)! } : {}),
    pidAlive: task !== undefined && task.pid > 0 && (await processAlive(task.pid)),
  };
}

/** What is present of a pod, in creation order. */
function present(o: Observed): Set<Step> {
  const s = new Set<Step>();
  if (o.store && o.podOnDisk) s.add("sandbox");
  if (o.state === "SANDBOX_READY") s.add("started");
  if (o.container) s.add("container");
  if (o.task) s.add("task");
  if (o.task?.status === Status.RUNNING) s.add("running");
  return s;
}

type Verdict = "there" | "prefix" | "gone";

/**
 * A pod's verdict, or the inconsistencies found. `monitorKilled`: its conmon
 * was killed, so a task reported stopped (exit 255, or the real exit) is right.
 */
function judge(o: Observed, monitorKilled: boolean): { verdict?: Verdict; problems: string[] } {
  const problems: string[] = [];
  if (o.state.startsWith("error")) problems.push(`sandbox status ${o.state}`);
  if (o.podOnDisk && !o.store) problems.push("the sandboxer has a pod without a sandbox row");
  if (o.store && o.podOnDisk !== (o.state === "SANDBOX_READY" || o.state === "SANDBOX_NOTREADY"))
    problems.push("sandbox row, controller status and the sandboxer's pod disagree");
  if (o.container && !o.store) problems.push("a container row whose sandbox row is gone");
  if (o.task && !o.container) problems.push("a task without a container row");
  if (o.task && o.task.status === Status.UNKNOWN) problems.push("task status UNKNOWN");
  if (o.task && o.runc === undefined) problems.push("a task without a runc container");
  if (!o.task && o.runc !== undefined) problems.push(`a runc container (${o.runc}) without a task`);
  if (o.task?.status === Status.RUNNING && (!o.pidAlive || o.runc !== "running"))
    problems.push("a running task whose process is not running");
  if (o.task?.status === Status.CREATED && o.runc !== "created")
    problems.push("a created task whose runc container is not created");
  if (o.task?.status === Status.STOPPED && !monitorKilled)
    problems.push("a stopped task nobody stopped");
  if (problems.length) return { problems };
  const p = present(o);
  // A stopped task whose monitor was killed counts as having run.
  if (monitorKilled && o.task?.status === Status.STOPPED) p.add("running");
  const n = STEPS.findIndex((s) => !p.has(s));
  const prefix = n < 0 ? STEPS.length : n;
  if (STEPS.some((s, i) => i >= prefix && p.has(s)))
    return { problems: [`present steps ${[...p].join(",")} are not a prefix of the creation`] };
  if (prefix === STEPS.length) return { verdict: "there", problems };
  if (prefix === 0 && !o.store) return { verdict: "gone", problems };
  return { verdict: "prefix", problems };
}

interface Judged {
  o: Observed;
  verdict?: Verdict;
  problems: string[];
}

async function judgeAll(
  stack: Stack,
  channel: Channel,
  attempts: Attempt[],
  monitorOf: string | undefined,
): Promise<Map<string, Judged>> {
  const runc = await runcStates(stack);
  const out = new Map<string, Judged>();
  await Promise.all(
    attempts.map(async (a) => {
      let o: Observed;
      try {
        o = await observe(stack, channel, a.id, runc);
      } catch (err) {
        // Not yet answerable (sandboxd or the sandboxer still coming back): look again.
        const none = { store: false, state: "?", podOnDisk: false, container: false };
        out.set(a.id, {
          o: { ...none, pidAlive: false },
          problems: [`cannot observe: ${(err as Error).message}`],
        });
        return;
      }
      const j = judge(o, a.id === monitorOf);
      const p = present(o);
      if (a.id === monitorOf && o.task?.status === Status.STOPPED) p.add("running");
      for (const s of a.steps) {
        if (!p.has(s)) j.problems.push(`acknowledged step "${s}" is lost`);
      }
      out.set(a.id, { o, ...j });
    }),
  );
  return out;
}

/** An exec of `/bin/true` in the pod's container exits 0. */
async function execWorks(stack: Stack, client: Client, id: string, n: number): Promise<void> {
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
    const dir = join(stack.sandboxer.stateDir, "sandboxes", NS, id, "containers", id, "execs");
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

/** Host-local IP leases left in the sandboxer's CNI directory. */
async function cniLeases(stack: Stack): Promise<string[]> {
  const root = join(stack.sandboxer.stateDir, "cni");
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(dir, e.name));
      else if (/^\d+\.\d+\.\d+\.\d+$/.test(e.name) || e.name.includes(":"))
        out.push(join(dir, e.name));
    }
  };
  await walk(root);
  return out;
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
  const creating = Promise.all(attempts.map((a) => createPod(client, stack.rootfs, a)));
  const hit = await strike(stack, victim, delay, rng);
  await creating;
  const acked = attempts.filter((a) => a.acknowledged).length;
  const ctx = `${hit.what}; ${replay()}`;
  t.diagnostic(`${victim} round ${r}: ${hit.what}; ${acked}/${PODS} creations acknowledged`);

  // sandboxd's view after the restart (a fresh connection; the old one may be dead).
  const channel = new Channel(stack.sandboxd.address, {
    metadata: { "containerd-namespace": NS },
  });
  const counts: Record<Verdict, number> = { there: 0, prefix: 0, gone: 0 };
  try {
    // Recovery settles within a bound: the sandboxer's monitor sweep, sandboxd's reconnects.
    let judged = new Map<string, Judged>();
    await waitUntil(
      async () => {
        judged = await judgeAll(stack, channel, attempts, hit.monitorOf);
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
      (a) => judged.get(a.id)?.verdict === "there" && a.id !== hit.monitorOf,
    );
    const sample = rng.shuffle(there).slice(0, EXEC_SAMPLE);
    const c = await stack.client(NS);
    await Promise.all(sample.map((a, i) => execWorks(stack, c, a.id, i)));
  } finally {
    channel.close();
  }

  // Removing what sandboxd lists removes everything: no orphan without a row.
  await removeAll(stack.sandboxd.address);
  const c = await stack.client(NS);
  assert.deepEqual(
    (await c.sandboxes()).map((s) => s.id),
    [],
    `sandbox rows left (${ctx})`,
  );
  assert.deepEqual(
    (await c.containers()).map((x) => x.id),
    [],
    `container rows left (${ctx})`,
  );
  assert.deepEqual(await c.tasks(), [], `tasks left (${ctx})`);
  assert.deepEqual(await sandboxerPods(stack.sandboxer), [], `sandboxer pods left (${ctx})`);
  assert.deepEqual([...(await runcStates(stack)).keys()], [], `runc containers left (${ctx})`);
  const sbx = await connect(stack.sandboxer.taskSocket);
  try {
    const info = await createClient(sbx, Sandboxer).info({}, { timeoutMs: 10_000 });
    assert.deepEqual(
      { sandboxes: info.sandboxes, containers: info.containers },
      { sandboxes: 0, containers: 0 },
      `the sandboxer still holds objects (${ctx})`,
    );
  } finally {
    await sbx.close();
  }
  await waitUntil(async () => (await cniLeases(stack)).length === 0, {
    timeoutMs: 10_000,
    what: "CNI leases to be released",
  }).catch(async () =>
    assert.fail(`CNI leases left: ${(await cniLeases(stack)).join(", ")} (${ctx})`),
  );
  const bundles = join(stack.sandboxd.state, "io.containerd.runtime.v2.task", NS);
  await waitUntil(async () => (await readdir(bundles).catch(() => [])).length === 0, {
    timeoutMs: 10_000,
    what: "task bundles to be removed",
  }).catch(async () =>
    assert.fail(`bundles left: ${(await readdir(bundles)).join(", ")} (${ctx})`),
  );
  try {
    await stack.checkLeaks(20_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n(${ctx})`, { cause: err });
  }
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
