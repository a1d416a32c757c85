/**
 * Recovery after kill -9 with P pods (one sleeping container each), created
 * through sandboxd's Sandbox API and served by sbx-sandboxer in proxy mode:
 *
 * - sbx-sandboxer: SIGKILL, start it again on the same state; the time from
 *   the exec until every pod answers Controller.Status with SANDBOX_READY
 *   (and, apart, the sandboxer's own `recovery_ms`);
 * - sandboxd: SIGKILL, start it again on the same root and state; the time
 *   from the exec until Tasks.Get of every container answers RUNNING with its
 *   pid (the task is known again, through the sandbox's task address).
 *
 * The time runs from just before the new process is spawned; the poll asks
 * every 2 ms whether the socket accepts connections, then over a fresh
 * connection (gRPC's reconnect back-off would otherwise blur the figure) asks
 * every pod or task, again every 2 ms for those not there yet.
 */
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { writeFile } from "node:fs/promises";
import { Controller } from "@sandboxd/api/services/sandbox/v1/sandbox_pb";
import { Tasks } from "@sandboxd/api/services/tasks/v1/tasks_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { Task } from "@sandboxd/api/runtime/task/v3/shim_pb";
import { Sandboxer } from "@sandboxd/api/sandboxd/sandboxer/v1/sandboxer_pb";
import { Channel } from "@sandboxd/grpc";
import { ociSpec, writeBundleSpec } from "@sandboxd/testing";
import { connect, createClient } from "@sandboxd/ttrpc";
import { sdkStartPod } from "./concurrent.js";
import { pool } from "./harness.js";
import { summarize, type Summary } from "./stats.js";
import { NAMESPACE, removeSandboxes, shutdownSandboxerPods, type SbxStack } from "./systems.js";

export interface RecoveryResult {
  pods: number;
  rounds: number;
  /** How the pods were made: through sandboxd, or on the sandboxer directly. */
  via: "sandboxd" | "sandboxer";
  sandboxer: {
    /** exec → every pod answers Status, ms. */
    allAnswerMs: Summary;
    /** The sandboxer's own `recovery_ms` (loading and checking every record). */
    ownMs: Summary;
  };
  sandboxd?: {
    /** exec → every task answers Get (RUNNING, with its pid), ms. */
    allKnownMs: Summary;
  };
  skipped?: string;
}

function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Polls until every id passes `answers` (over a channel made once the socket
 * accepts); gives up after `timeoutMs`.
 */
async function untilAll(
  socket: string,
  ids: readonly string[],
  answers: (channel: Channel, id: string) => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await accepts(socket))) {
    if (Date.now() > until) throw new Error(`${socket}: not listening after ${timeoutMs} ms`);
    await sleep(2);
  }
  let pending = [...ids];
  let channel = new Channel(socket, { metadata: { "containerd-namespace": NAMESPACE } });
  try {
    for (;;) {
      const ok = await Promise.all(pending.map((id) => answers(channel, id).catch(() => false)));
      const failedAll = ok.every((x) => !x);
      pending = pending.filter((_, i) => !ok[i]);
      if (pending.length === 0) return;
      if (Date.now() > until) {
        throw new Error(`${pending.length} of ${ids.length} did not answer after ${timeoutMs} ms`);
      }
      if (failedAll) {
        // Maybe a connection that failed early: start afresh.
        channel.close();
        channel = new Channel(socket, { metadata: { "containerd-namespace": NAMESPACE } });
      }
      await sleep(2);
    }
  } finally {
    channel.close();
  }
}

/** P pods directly on the sandboxer (when sandboxd has no Sandbox API yet). */
async function podsOnSandboxer(stack: SbxStack, ids: string[], rootfs: string): Promise<void> {
  const channel = new Channel(stack.sandboxer.listen, {
    metadata: { "containerd-namespace": NAMESPACE },
  });
  const conn = await connect(stack.sandboxer.taskSocket);
  try {
    const ctl = channel.client(Controller);
    const tasks = createClient(conn, Task);
    const md = { metadata: { "containerd-namespace-ttrpc": NAMESPACE } };
    await pool(ids, 8, async (id) => {
      await ctl.create({ sandboxId: id });
      await ctl.start({ sandboxId: id });
      const bundle = join(stack.sandboxer.stateDir, "..", "bundles", id);
      await writeBundleSpec(bundle, ociSpec({ args: ["/bin/sleep", "100000"], rootfs }));
      await writeFile(join(bundle, "sandbox"), id);
      await tasks.create({ id, bundle, stdout: "", stderr: "" }, md);
      await tasks.start({ id }, md);
    });
  } finally {
    await conn.close();
    channel.close();
  }
}

async function ownRecoveryMs(stack: SbxStack): Promise<number> {
  const conn = await connect(stack.sandboxer.taskSocket);
  try {
    const info = await createClient(conn, Sandboxer).info({});
    return info.recoveryMs;
  } finally {
    await conn.close();
  }
}

export async function benchRecovery(o: {
  pods: number;
  rounds: number;
  rootfs: string;
  stack: SbxStack;
}): Promise<RecoveryResult> {
  const { stack } = o;
  const ids = Array.from({ length: o.pods }, (_, i) => `rec${i}`);
  const via = stack.sandboxApi ? "sandboxd" : "sandboxer";
  if (stack.sandboxApi) await pool(ids, 8, (id) => sdkStartPod(stack.client, id, o.rootfs));
  else await podsOnSandboxer(stack, ids, o.rootfs);

  const answerMs: number[] = [];
  const ownMs: number[] = [];
  for (let r = 0; r < o.rounds; r++) {
    await stack.sandboxer.kill("SIGKILL");
    const started = performance.now();
    const restarting = stack.sandboxer.restart();
    await untilAll(stack.sandboxer.listen, ids, async (channel, id) => {
      const s = await channel.client(Controller).status({ sandboxId: id }, { timeoutMs: 5000 });
      return s.state === "SANDBOX_READY";
    });
    answerMs.push(performance.now() - started);
    await restarting;
    ownMs.push(await ownRecoveryMs(stack));
  }
  const result: RecoveryResult = {
    pods: o.pods,
    rounds: o.rounds,
    via,
    sandboxer: { allAnswerMs: summarize(answerMs), ownMs: summarize(ownMs) },
  };

  if (stack.sandboxApi) {
    const knownMs: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      await stack.sandboxd.kill();
      const started = performance.now();
      const restarting = stack.startSandboxdAgain();
      await untilAll(stack.sandboxd.address, ids, async (channel, id) => {
        const { process: p } = await channel
          .client(Tasks)
          .get({ containerId: id }, { timeoutMs: 5000 });
        return p?.status === Status.RUNNING && p.pid > 0;
      });
      knownMs.push(performance.now() - started);
      await restarting;
    }
    result.sandboxd = { allKnownMs: summarize(knownMs) };
    await removeSandboxes(stack.client);
  } else {
    result.skipped = "sandboxd does not serve the Sandbox API yet";
    await shutdownSandboxerPods(stack.sandboxer);
  }
  return result;
}
