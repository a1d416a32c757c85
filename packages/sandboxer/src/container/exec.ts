/**
 * An exec process: `runc exec` under its own conmon (`--exec`), with its own
 * directory for the process spec and conmon's pid/exit files, so its exit code
 * survives a sandboxer restart like the container's.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Topic } from "@sandboxd/api/names";
import { TaskExecAddedSchema, TaskExecStartedSchema } from "@sandboxd/api/events/task_pb";
import { withRollback, type Ctx } from "@sandboxd/core";
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from "@sandboxd/errdefs";
import { ensureDir, writeFileAtomic } from "../state/atomic.js";
import type { ExecRecord, Stdio } from "../state/records.js";
import { recordVersion } from "../state/records.js";
import type { Container } from "./container.js";
import { launch } from "./launch.js";
import type { TerminalPaths } from "./terminal.js";
import { terminalPaths } from "./terminal.js";
import { Proc } from "./process.js";

export interface ExecParams {
  /** The exec id. */
  id: string;
  /** The OCI process to run (its `terminal` is taken from `stdio`). */
  processSpec: Record<string, unknown>;
  stdio: Stdio;
}

export class ExecProcess {
  readonly container: Container;
  readonly rec: ExecRecord;
  readonly proc: Proc;

  constructor(container: Container, rec: ExecRecord) {
    this.container = container;
    this.rec = rec;
    this.proc = new Proc(this.dir, rec, {
      env: container.env,
      recordFile: "exec.json",
      namespace: rec.namespace,
      containerId: container.id,
      id: rec.id,
    });
  }

  get id(): string {
    return this.rec.id;
  }

  get dir(): string {
    const c = this.container;
    return c.env.layout.execDir(c.namespace, c.rec.sandboxId, c.id, this.rec.id);
  }

  terminalPaths(): TerminalPaths {
    const c = this.container;
    return terminalPaths(
      c.env.layout.ttyRoot,
      this.dir,
      this.dir,
      `${c.namespace}\0${c.id}\0${this.id}`,
    );
  }

  save(): Promise<void> {
    return this.proc.save();
  }

  /** Registers an exec (the Exec RPC); it runs on start(). Nothing is left on failure. */
  static async add(ctx: Ctx, container: Container, p: ExecParams): Promise<ExecProcess> {
    const execId = p.id;
    if (container.execs.has(execId)) throw alreadyExists(`exec ${JSON.stringify(execId)}`);
    if (container.rec.status !== "running") {
      throw failedPrecondition(
        `container ${JSON.stringify(container.id)} is ${container.rec.status}: cannot exec`,
      );
    }
    if (!Array.isArray(p.processSpec.args) || p.processSpec.args.length === 0) {
      throw invalidArgument(`exec ${JSON.stringify(execId)}: process spec has no args`);
    }
    const spec = { ...p.processSpec, terminal: p.stdio.terminal };
    const exec = new ExecProcess(container, {
      version: recordVersion,
      id: execId,
      containerId: container.id,
      namespace: container.namespace,
      stdio: p.stdio,
      status: "created",
      pid: 0,
      conmonPid: 0,
      createdAt: Date.now(),
    });
    await withRollback(ctx, async (undo) => {
      undo.push("remove exec state", () => rm(exec.dir, { recursive: true, force: true }));
      await ensureDir(exec.dir);
      await writeFileAtomic(join(exec.dir, "process.json"), JSON.stringify(spec));
      await exec.save();
    });
    container.execs.set(execId, exec);
    container.env.events.publish(container.namespace, Topic.TaskExecAdded, TaskExecAddedSchema, {
      containerId: container.id,
      execId,
    });
    return exec;
  }

  async start(ctx: Ctx): Promise<number> {
    const c = this.container;
    await this.proc.starting(`exec ${JSON.stringify(this.id)}`, async () => {
      const started = await c.env.migrations.during(() =>
        launch(ctx, this.proc, {
          binaries: c.env.config.binaries,
          runcRoot: c.env.layout.runcRoot(c.namespace),
          cid: c.id,
          stdio: this.rec.stdio,
          tty: this.rec.stdio.terminal ? this.terminalPaths() : undefined,
          run: { processSpec: join(this.dir, "process.json") },
          controlDir: this.dir,
        }),
      );
      void started.syncExit.then(() => this.proc.check()).catch(() => undefined);
      await this.proc.recordStart();
      this.proc.watch();
      c.env.events.publish(c.namespace, Topic.TaskExecStarted, TaskExecStartedSchema, {
        containerId: c.id,
        execId: this.id,
        pid: this.rec.pid,
      });
    });
    return this.rec.pid;
  }

  kill(signal: number): void {
    if (this.rec.status !== "running") throw notFound("process already finished");
    try {
      process.kill(this.rec.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ESRCH")
        throw notFound("process already finished");
      throw err;
    }
  }

  async delete(): Promise<{ pid: number; exitStatus: number; exitedAt: number }> {
    if (this.rec.status === "running") {
      throw failedPrecondition(`exec ${JSON.stringify(this.id)} is running: cannot delete`);
    }
    this.proc.close();
    if (this.rec.stdio.terminal) {
      await rm(join(this.container.env.layout.ttyRoot, this.terminalPaths().cuuid), {
        force: true,
      });
    }
    await rm(this.dir, { recursive: true, force: true });
    this.container.execs.delete(this.id);
    return {
      pid: this.rec.pid,
      exitStatus: this.rec.exitStatus ?? 0,
      exitedAt: this.rec.exitedAt ?? Date.now(),
    };
  }
}
