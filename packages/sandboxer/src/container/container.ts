/**
 * A container of a pod: runc under conmon, its record on disk, its init process
 * and its execs. create() is all-or-nothing (rollback of mounts, config.json,
 * conmon and runc state); exits are learned from conmon's files and published as
 * events in runtime-v2 order (create, start, exit, delete).
 */
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { ts } from "../util/time.js";
import {
  TaskCreateSchema,
  TaskDeleteSchema,
  TaskOOMSchema,
  TaskPausedSchema,
  TaskResumedSchema,
  TaskStartSchema,
} from "@sandboxd/api/events/task_pb";
import { Topic } from "@sandboxd/api/names";
import type { Ctx } from "@sandboxd/core";
import { failedPrecondition, isNotFound, notFound } from "@sandboxd/errdefs";
import type { Env } from "../env.js";
import type { Pod } from "../pod/pod.js";
import { containerCgroupsPath } from "../pod/cgroups.js";
import type { LinuxResources } from "../pod/resources.js";
import { ensureDir, writeFileAtomic } from "../state/atomic.js";
import type { ContainerRecord, Stdio } from "../state/records.js";
import { recordVersion } from "../state/records.js";
import { withRollback } from "@sandboxd/core";
import { launch } from "./launch.js";
import type { TerminalPaths } from "./terminal.js";
import { terminalPaths } from "./terminal.js";
import type { MountSpec } from "./mounts.js";
import { mountIdmappedRootfs } from "./idmap-rootfs.js";
import { mountRootfs, unmountAll } from "./mounts.js";
import { Proc, isAlive } from "./process.js";
import { Runc } from "./runc.js";
import type { OciSpec } from "./spec.js";
import { placeInSandbox } from "./spec.js";
import type { ExecProcess } from "./exec.js";

export interface CreateParams {
  namespace: string;
  id: string;
  bundle: string;
  rootfs: MountSpec[];
  stdio: Stdio;
  spec: OciSpec;
  /** Init pids of the pod's other containers (a pid namespace path at one of them is kept). */
  memberPids?: readonly number[] | undefined;
  /** The bundle's config.json as the caller read it (restored if the create fails). */
  configText?: string | undefined;
}

export interface ExitResult {
  pid: number;
  exitStatus: number;
  exitedAt: number;
}

export class Container {
  readonly env: Env;
  readonly pod: Pod;
  readonly rec: ContainerRecord;
  readonly runc: Runc;
  readonly init: Proc;
  readonly execs = new Map<string, ExecProcess>();
  deleted = false;

  constructor(env: Env, pod: Pod, rec: ContainerRecord) {
    this.env = env;
    this.pod = pod;
    this.rec = rec;
    this.runc = new Runc(
      env.config.binaries.runc,
      env.layout.runcRoot(rec.namespace),
      env.config.binaries.start,
    );
    this.init = new Proc(this.dir, rec, {
      env,
      recordFile: "container.json",
      namespace: rec.namespace,
      containerId: rec.id,
      id: rec.id,
      onOom: () =>
        env.events.publish(rec.namespace, Topic.TaskOOM, TaskOOMSchema, { containerId: rec.id }),
    });
  }

  /** Frozen by Task Pause; persisted so a restart knows without asking runc. */
  get paused(): boolean {
    return this.rec.paused ?? false;
  }

  get id(): string {
    return this.rec.id;
  }

  get namespace(): string {
    return this.rec.namespace;
  }

  get dir(): string {
    return this.env.layout.containerDir(this.rec.namespace, this.rec.sandboxId, this.rec.id);
  }

  get resources(): LinuxResources | undefined {
    return this.rec.resources;
  }

  /** Where conmon keeps this container's terminal (attach socket, log, ctl FIFO). */
  terminalPaths(): TerminalPaths {
    return terminalPaths(
      this.env.layout.ttyRoot,
      this.dir,
      this.rec.bundle,
      `${this.namespace}\0${this.id}`,
    );
  }

  /** Not fsynced unless `durable`: runtime state (see writeFileAtomic). */
  save(durable = false): Promise<void> {
    return this.init.save(durable);
  }

  /** Creates the container (runc create under conmon) in `pod`; nothing is left on failure. */
  static async create(
    ctx: Ctx,
    env: Env,
    pod: Pod,
    p: CreateParams,
    resize: (extra: LinuxResources | undefined) => Promise<void>,
  ): Promise<Container> {
    const cgroupRel = pod.rec.cgroup;
    if (!cgroupRel) throw failedPrecondition(`sandbox ${JSON.stringify(pod.rec.id)} has no cgroup`);
    // From the first step: the first write after a quiet spell waits out a grace period
    // while the bundle is prepared and conmon and runc start up.
    return env.migrations.during(() => Container.createHeld(ctx, env, pod, p, cgroupRel, resize));
  }

  private static async createHeld(
    ctx: Ctx,
    env: Env,
    pod: Pod,
    p: CreateParams,
    cgroupRel: string,
    resize: (extra: LinuxResources | undefined) => Promise<void>,
  ): Promise<Container> {
    const placed = placeInSandbox(p.spec, {
      ...pod.namespaceView(p.memberPids ?? []),
      cgroupsPath: containerCgroupsPath(cgroupRel, p.id),
      etc: pod.rec.etc,
      sysctls: pod.rec.sysctls,
      shm: pod.rec.shm,
      userns: pod.rec.userns,
    });
    const rec: ContainerRecord = {
      version: recordVersion,
      id: p.id,
      namespace: p.namespace,
      sandboxId: pod.rec.id,
      bundle: p.bundle,
      mounted: p.rootfs.length > 0,
      stdio: p.stdio,
      cgroupsPath: placed.linux?.cgroupsPath ?? "",
      resources: resourcesOf(placed),
      status: "creating",
      pid: 0,
      conmonPid: 0,
      createdAt: Date.now(),
    };
    const c = new Container(env, pod, rec);
    await withRollback(ctx, async (undo) => {
      undo.push("remove container state", () => rm(c.dir, { recursive: true, force: true }));
      await Promise.all([
        ensureDir(c.dir, 0o711, false),
        ensureDir(env.layout.runcRoot(p.namespace), 0o711, false),
      ]);
      // Written first, so that a crash in the middle leaves a record recovery can undo.
      await c.save();
      const rootfs = join(p.bundle, "rootfs");
      if (p.rootfs.length > 0) {
        undo.push("unmount rootfs", (u) => unmountAll(u, rootfs));
        const userns = pod.rec.pins?.user;
        if (userns && pod.rec.userns) {
          await mountIdmappedRootfs(ctx, p.rootfs, rootfs, {
            helper: env.config.binaries.userns,
            ...{ userns, ids: pod.rec.userns, bundle: p.bundle },
            scratch: join(c.dir, "idmap"),
          });
        } else await mountRootfs(ctx, p.rootfs, rootfs);
      }
      const configPath = join(p.bundle, "config.json");
      const original = p.configText ?? (await readFile(configPath));
      // The bundle is sandboxd's, which does not fsync it either.
      undo.push("restore config.json", () => writeFileAtomic(configPath, original, 0o644, false));
      await writeFileAtomic(configPath, JSON.stringify(placed), 0o644, false);
      undo.push("resize sandbox", () => resize(undefined));
      await resize(rec.resources ?? {});

      undo.push("close stdio", () => c.init.close());
      undo.push("delete runc container", async (u) => {
        await c.runc.delete(u, p.id, true).catch(() => undefined);
        if (rec.conmonPid > 0 && isAlive(rec.conmonPid)) process.kill(rec.conmonPid, "SIGKILL");
      });
      await launch(ctx, c.init, {
        binaries: env.config.binaries,
        runcRoot: env.layout.runcRoot(p.namespace),
        cid: p.id,
        stdio: p.stdio,
        tty: p.stdio.terminal ? c.terminalPaths() : undefined,
        run: { bundle: p.bundle },
        controlDir: p.bundle,
      });
      rec.status = "created";
      await c.save();
    });
    c.init.watch();
    env.events.publish(p.namespace, Topic.TaskCreate, TaskCreateSchema, {
      containerId: p.id,
      bundle: p.bundle,
      rootfs: p.rootfs.map((m) => ({
        type: m.type,
        source: m.source,
        target: m.target ?? "",
        options: m.options,
      })),
      io: {
        stdin: p.stdio.stdin,
        stdout: p.stdio.stdout,
        stderr: p.stdio.stderr,
        terminal: p.stdio.terminal,
      },
      pid: rec.pid,
    });
    return c;
  }

  async start(ctx: Ctx): Promise<number> {
    await this.init.starting(`container ${JSON.stringify(this.id)}`, async () => {
      await this.runc.start(ctx, this.id, this.rec.pid);
      await this.init.recordStart();
      this.env.events.publish(this.namespace, Topic.TaskStart, TaskStartSchema, {
        containerId: this.id,
        pid: this.rec.pid,
      });
    });
    return this.rec.pid;
  }

  /** Signals the init process (or, with `all`, every process of the container). */
  async kill(ctx: Ctx, signal: number, all: boolean): Promise<void> {
    if (this.rec.status === "stopped" && !all) throw notFound(`process already finished`);
    try {
      await this.runc.kill(ctx, this.id, signal, all);
    } catch (err) {
      if (all && this.rec.status === "stopped") return;
      if (isNotFound(err) || /not running/.test(String(err)))
        throw notFound("process already finished");
      throw err;
    }
    // A frozen process does not die until thawed.
    if (signal === 9 && this.paused) await this.resume(ctx).catch(() => undefined);
  }

  async pause(ctx: Ctx): Promise<void> {
    await this.runc.pause(ctx, this.id);
    this.rec.paused = true;
    await this.save();
    this.env.events.publish(this.namespace, Topic.TaskPaused, TaskPausedSchema, {
      containerId: this.id,
    });
  }

  async resume(ctx: Ctx): Promise<void> {
    await this.runc.resume(ctx, this.id);
    this.rec.paused = false;
    await this.save();
    this.env.events.publish(this.namespace, Topic.TaskResumed, TaskResumedSchema, {
      containerId: this.id,
    });
  }

  /**
   * Removes the container: runc state, cgroup, rootfs mounts, state files. The
   * init must have exited, or never been started (then it is killed here).
   */
  async delete(ctx: Ctx): Promise<ExitResult> {
    if (this.rec.status === "running") {
      throw failedPrecondition(
        `container ${JSON.stringify(this.id)} is running: kill it before deleting`,
      );
    }
    if (this.rec.status === "created") {
      await this.runc.delete(ctx, this.id, true);
      await waitUntil(this.init.exited, 5000);
      // The exit handler may have run meanwhile (TypeScript cannot see that).
      if ((this.rec.status as string) !== "stopped") await this.init.checkMonitor();
    }
    for (const exec of this.execs.values()) exec.proc.close();
    await this.runc.removeStopped(ctx, this.id);
    if (this.rec.mounted) await unmountAll(ctx, join(this.rec.bundle, "rootfs"));
    this.init.close();
    // conmon's attach symlink (it removes it itself only on a clean exit).
    if (this.rec.stdio.terminal)
      await rm(join(this.env.layout.ttyRoot, this.terminalPaths().cuuid), { force: true });
    for (const exec of this.execs.values()) {
      if (exec.rec.stdio.terminal)
        await rm(join(this.env.layout.ttyRoot, exec.terminalPaths().cuuid), { force: true });
    }
    await rm(this.dir, { recursive: true, force: true });
    this.deleted = true;
    const result = {
      pid: this.rec.pid,
      exitStatus: this.rec.exitStatus ?? 255,
      exitedAt: this.rec.exitedAt ?? Date.now(),
    };
    this.env.events.publish(this.namespace, Topic.TaskDelete, TaskDeleteSchema, {
      containerId: this.id,
      pid: result.pid,
      exitStatus: result.exitStatus,
      exitedAt: ts(result.exitedAt),
      id: "",
    });
    return result;
  }

  /** Pids of the container's processes (runc ps). */
  async pids(ctx: Ctx): Promise<number[]> {
    if (this.rec.status === "stopped") return [];
    return this.runc.ps(ctx, this.id);
  }

  /** Whether the container has a pid namespace of its own (its processes die with init). */
  async ownsPidNamespace(): Promise<boolean> {
    const spec = JSON.parse(
      await readFile(join(this.rec.bundle, "config.json"), "utf8"),
    ) as OciSpec;
    return spec.linux?.namespaces?.some((n) => n.type === "pid" && !n.path) ?? false;
  }
}

/** The part of linux.resources that sizes the pod. */
function resourcesOf(spec: OciSpec): LinuxResources | undefined {
  const r = spec.linux?.resources as LinuxResources | undefined;
  if (!r) return undefined;
  return {
    ...(r.cpu ? { cpu: { ...r.cpu } } : {}),
    ...(r.memory ? { memory: { ...r.memory } } : {}),
    ...(r.pids ? { pids: { ...r.pids } } : {}),
  };
}

async function waitUntil(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
