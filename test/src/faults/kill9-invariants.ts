// What the kill -9 fault tests check after recovery, per pod: how sandboxd's
// rows, Controller.Status, the task and the sandboxer's pod and runc
// container relate (consistent, and a prefix of the creation), and that
// removing everything sandboxd lists leaves nothing behind.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { Containers } from "@sandboxd/api/services/containers/v1/containers_pb";
import { Controller, Store } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Tasks } from "@sandboxd/api/services/tasks/v1/tasks_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { Sandboxer } from "@sandboxd/api/sandboxd/sandboxer/v1/sandboxer_pb";
import { Code, codeOf, kindOf, messageOf } from "@sandboxd/errdefs";
import type { Channel } from "@sandboxd/grpc";
import { processAlive, waitUntil } from "@sandboxd/testing";
import { connect, createClient } from "@sandboxd/ttrpc";
import { removeAll, sandboxerPods, type Stack } from "./stack.js";

export const STEPS = ["sandbox", "started", "container", "task", "running"] as const;
export type Step = (typeof STEPS)[number];

export interface Attempt {
  id: string;
  /** Steps whose call returned success. */
  steps: Step[];
  acknowledged: boolean;
  error?: string;
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

export function describeObserved(o: Observed): string {
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
export async function runcStates(stack: Stack, ns: string): Promise<Map<string, string>> {
  const { execFile } = await import("node:child_process");
  const root = join(stack.sandboxer.stateDir, "runc", ns);
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
  ns: string,
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
      state = codeOf(kindOf(err)) === Code.NotFound ? "notfound" : `error: ${messageOf(err)}`;
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
    podOnDisk: existsSync(join(stack.sandboxer.stateDir, "sandboxes", ns, id)),
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

export type Verdict = "there" | "prefix" | "gone";

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

export interface Judged {
  o: Observed;
  verdict?: Verdict;
  problems: string[];
}

export async function judgeAll(
  stack: Stack,
  ns: string,
  channel: Channel,
  attempts: Attempt[],
  monitorOf: string | undefined,
): Promise<Map<string, Judged>> {
  const runc = await runcStates(stack, ns);
  const out = new Map<string, Judged>();
  await Promise.all(
    attempts.map(async (a) => {
      let o: Observed;
      try {
        o = await observe(stack, ns, channel, a.id, runc);
      } catch (err) {
        // Not yet answerable (sandboxd or the sandboxer still coming back): look again.
        const none = { store: false, state: "?", podOnDisk: false, container: false };
        out.set(a.id, {
          o: { ...none, pidAlive: false },
          problems: [`cannot observe: ${messageOf(err)}`],
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
/**
 * Removes everything sandboxd lists, through its API, and checks nothing is
 * left anywhere: rows, tasks, sandboxer pods, runc containers, CNI leases,
 * bundles, mounts, cgroups, processes. `ctx` names the fault, for messages.
 */
export async function assertNothingLeft(stack: Stack, ns: string, ctx: string): Promise<void> {
  await removeAll(stack.sandboxd.address);
  const c = await stack.client(ns);
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
  assert.deepEqual([...(await runcStates(stack, ns)).keys()], [], `runc containers left (${ctx})`);
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
  const bundles = join(stack.sandboxd.state, "io.containerd.runtime.v2.task", ns);
  await waitUntil(async () => (await readdir(bundles).catch(() => [])).length === 0, {
    timeoutMs: 10_000,
    what: "task bundles to be removed",
  }).catch(async () =>
    assert.fail(`bundles left: ${(await readdir(bundles)).join(", ")} (${ctx})`),
  );
  try {
    await stack.checkLeaks(20_000);
  } catch (err) {
    throw new Error(`${messageOf(err)}\n(${ctx})`, { cause: err });
  }
}
