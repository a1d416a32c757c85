/**
 * Rebuilding the sandboxer's view after a restart (or a kill -9) from the state
 * directory: every sandbox, container and exec record is loaded, each process
 * gets its exit watch back, and what happened while nobody watched is caught up:
 * exits recorded by conmon are reported (and forwarded as events), operations
 * that were cut in the middle are undone. Sandboxes are recovered concurrently
 * with a bound, each one's containers in parallel.
 */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Topic } from "@sandboxd/api/names";
import { TaskStartSchema } from "@sandboxd/api/events/task_pb";
import type { Ctx } from "@sandboxd/core";
import { Container } from "./container/container.js";
import { ExecProcess } from "./container/exec.js";
import { unmountAll } from "./container/mounts.js";
import { isAlive } from "./container/process.js";
import { Runc } from "./container/runc.js";
import { TerminalOutput } from "./container/terminal.js";
import { unpinNamespaces } from "./pod/namespaces.js";
import { Pod } from "./pod/pod.js";
import type { Sandboxer } from "./sandboxer.js";
import { listDirs, readJson, readRecord } from "./state/atomic.js";
import type { ContainerRecord, ExecRecord, SandboxRecord } from "./state/records.js";
import { mapLimit } from "@sandboxd/core";

export interface RecoveryReport {
  sandboxes: number;
  containers: number;
  failed: number;
  durationMs: number;
}

export async function recover(ctx: Ctx, sb: Sandboxer): Promise<RecoveryReport> {
  const started = performance.now();
  const root = sb.env.layout.sandboxesDir;
  const dirs: { ns: string; id: string }[] = [];
  for (const ns of await listDirs(root))
    for (const id of await listDirs(join(root, ns))) dirs.push({ ns, id });
  let containers = 0;
  const results = await mapLimit(dirs, sb.env.config.recoveryConcurrency, async ({ ns, id }) => {
    const n = await recoverSandbox(ctx, sb, ns, id);
    containers += n;
  });
  const failed = results.filter((r) => r.status === "rejected");
  for (const f of failed)
    if (f.status === "rejected")
      ctx.log.error({ error: f.reason as unknown }, "sandbox recovery failed");
  const report = {
    sandboxes: sb.pods.size,
    containers,
    failed: failed.length,
    durationMs: performance.now() - started,
  };
  sb.recoveryMs = report.durationMs;
  return report;
}

async function recoverSandbox(ctx: Ctx, sb: Sandboxer, ns: string, id: string): Promise<number> {
  const dir = sb.env.layout.sandboxDir(ns, id);
  const rec = await readRecord<SandboxRecord>(join(dir, "sandbox.json"));
  if (!rec) {
    // Created no further than its directory: nothing else exists yet.
    await rm(dir, { recursive: true, force: true });
    return 0;
  }
  const pod = new Pod(sb.env, rec);
  const cgroup = rec.cgroup ?? pod.cgroupPath();
  const pinDir = sb.env.layout.pinDir(ns, id);
  // What a start makes may exist before its record says so (killed in between).
  if (
    rec.state === "created" &&
    (rec.pins ||
      rec.cgroup ||
      rec.network ||
      rec.etc ||
      existsSync(pinDir) ||
      (await sb.env.cgroups.exists(cgroup)))
  ) {
    // Start was cut in the middle: release what it made; the sandbox stays created.
    ctx.log.warn({ namespace: ns, sandbox_id: id }, "undoing an interrupted sandbox start");
    await pod.releaseNetwork(ctx);
    await unpinNamespaces(ctx, pinDir);
    // The namespace level above the cgroup goes when this was its last pod.
    await pod.removeCgroup(cgroup).catch(() => undefined);
    rec.cgroup = undefined;
    rec.etc = undefined;
    await pod.save();
  }
  sb.pods.set(pod.rec.namespace, pod.rec.id, pod);
  const cdir = join(dir, "containers");
  const ids = await listDirs(cdir);
  await Promise.all(
    ids.map((cid) =>
      recoverContainer(ctx, sb, pod, cid).catch((err: unknown) =>
        ctx.log.error(
          { namespace: ns, sandbox_id: id, id: cid, error: err },
          "container recovery failed",
        ),
      ),
    ),
  );
  if (rec.implicit && sb.containersOf(pod).length === 0) {
    // Its only container was never completely created: the sandbox goes with it.
    await pod.stop(ctx);
    await pod.release(ctx);
    sb.pods.delete(pod.rec.namespace, pod.rec.id);
  }
  return ids.length;
}

async function recoverContainer(ctx: Ctx, sb: Sandboxer, pod: Pod, cid: string): Promise<void> {
  const dir = sb.env.layout.containerDir(pod.rec.namespace, pod.rec.id, cid);
  const rec = await readRecord<ContainerRecord>(join(dir, "container.json"));
  if (!rec || rec.status === "creating") {
    await undoCreate(ctx, sb, pod, cid, rec);
    return;
  }
  const c = new Container(sb.env, pod, rec);
  sb.containers.set(rec.namespace, rec.id, c);
  for (const eid of await listDirs(join(dir, "execs"))) {
    const erec = await readRecord<ExecRecord>(join(dir, "execs", eid, "exec.json"));
    if (!erec) {
      await rm(join(dir, "execs", eid), { recursive: true, force: true });
      continue;
    }
    c.execs.set(eid, new ExecProcess(c, erec));
  }
  if (rec.status === "created") {
    // runc start may have run just before the crash, without its record being written.
    const state = await c.runc.state(ctx, rec.id).catch(() => undefined);
    if (state?.status === "running" || state?.status === "paused") {
      rec.status = "running";
      rec.startedAt = Date.now();
      c.init.markStarted();
      await c.save();
      sb.env.events.publish(rec.namespace, Topic.TaskStart, TaskStartSchema, {
        containerId: rec.id,
        pid: rec.pid,
      });
    }
    if (state?.status === "paused") rec.paused = true;
  }
  // Terminal output written while we were down is delivered from where we stopped.
  if (rec.stdio.terminal && rec.status !== "stopped") {
    c.init.terminal = await TerminalOutput.resume(c.terminalPaths(), rec.stdio.stdout);
    c.init.terminal.start(c.dir);
  }
  for (const e of c.execs.values()) {
    if (e.rec.stdio.terminal && e.rec.status === "running") {
      e.proc.terminal = await TerminalOutput.resume(e.terminalPaths(), e.rec.stdio.stdout);
      e.proc.terminal.start(e.dir);
    }
  }
  await c.init.recover();
  await Promise.all([...c.execs.values()].map((e) => e.proc.recover()));
}

/** A container whose create was cut short: remove whatever of it exists. */
async function undoCreate(
  ctx: Ctx,
  sb: Sandboxer,
  pod: Pod,
  cid: string,
  rec: ContainerRecord | undefined,
): Promise<void> {
  const dir = sb.env.layout.containerDir(pod.rec.namespace, pod.rec.id, cid);
  ctx.log.warn(
    { namespace: pod.rec.namespace, id: cid },
    "undoing an interrupted container create",
  );
  const runc = new Runc(sb.env.config.binaries.runc, sb.env.layout.runcRoot(pod.rec.namespace));
  await runc.delete(ctx, cid, true).catch(() => undefined);
  const conmonPid = Number((await readJson<number>(join(dir, "conmon.pid")).catch(() => 0)) ?? 0);
  if (conmonPid > 0 && isAlive(conmonPid)) {
    try {
      process.kill(conmonPid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  if (rec?.mounted) await unmountAll(ctx, join(rec.bundle, "rootfs")).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}
