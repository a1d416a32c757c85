/**
 * An exec process: `runc exec` under its own conmon (`--exec`), with its own
 * directory for the process spec and conmon's pid/exit files, so its exit code
 * survives a sandboxer restart like the container's.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Topic } from "@sandboxd/api/names";
import {
  TaskExecAddedSchema,
  TaskExecStartedSchema,
  TaskExitSchema,
} from "@sandboxd/api/events/task_pb";
import type { Ctx } from "@sandboxd/core";
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from "@sandboxd/errdefs";
import { ensureDir, writeFileAtomic, writeJsonAtomic } from "../state/atomic.js";
import type { ExecRecord, Stdio } from "../state/records.js";
import { recordVersion } from "../state/records.js";
import type { Container } from "./container.js";
import type { ExitInfo } from "./exit-watch.js";
import { launch } from "./launch.js";
import type { TerminalPaths } from "./terminal.js";
import { terminalPaths } from "./terminal.js";
import { Proc } from "./process.js";

export class ExecProcess {
  readonly container: Container;
  readonly rec: ExecRecord;
  readonly proc: Proc;

  constructor(container: Container, rec: ExecRecord) {
    this.container = container;
    this.rec = rec;
    this.proc = new Proc(this.dir, rec, {
      save: () => this.save(),
      onExit: (exit) => this.#onExit(exit),
      onOom: () => undefined,
      onError: (err) =>
        container.env.root.log.error(
          { namespace: rec.namespace, id: container.id, exec_id: rec.id, error: err },
          "exit handling failed",
        ),
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

  async save(): Promise<void> {
    await writeJsonAtomic(join(this.dir, "exec.json"), this.rec);
  }

  /** Registers an exec (the Exec RPC); it runs on start(). */
  static async add(
    ctx: Ctx,
    container: Container,
    execId: string,
    processSpec: Record<string, unknown>,
    stdio: Stdio,
  ): Promise<ExecProcess> {
    if (container.execs.has(execId)) throw alreadyExists(`exec ${JSON.stringify(execId)}`);
    if (container.rec.status !== "running") {
      throw failedPrecondition(
        `container ${JSON.stringify(container.id)} is ${container.rec.status}: cannot exec`,
      );
    }
    if (!Array.isArray(processSpec.args) || processSpec.args.length === 0) {
      throw invalidArgument(`exec ${JSON.stringify(execId)}: process spec has no args`);
    }
    const spec = { ...processSpec, terminal: stdio.terminal };
    const exec = new ExecProcess(container, {
      version: recordVersion,
      id: execId,
      containerId: container.id,
      namespace: container.namespace,
      stdio,
      status: "created",
      pid: 0,
      conmonPid: 0,
      createdAt: Date.now(),
    });
    await ensureDir(exec.dir);
    try {
      await writeFileAtomic(join(exec.dir, "process.json"), JSON.stringify(spec));
      await exec.save();
    } catch (err) {
      await rm(exec.dir, { recursive: true, force: true });
      throw err;
    }
    void ctx;
    container.execs.set(execId, exec);
    container.env.events.publish(container.namespace, Topic.TaskExecAdded, TaskExecAddedSchema, {
      containerId: container.id,
      execId,
    });
    return exec;
  }

  async start(ctx: Ctx): Promise<number> {
    if (this.rec.status !== "created") {
      throw failedPrecondition(
        `exec ${JSON.stringify(this.id)} is ${this.rec.status}: cannot start`,
      );
    }
    const c = this.container;
    await this.proc.starting(async () => {
      const started = await launch(ctx, this.proc, {
        binaries: c.env.config.binaries,
        runcRoot: c.env.layout.runcRoot(c.namespace),
        cid: c.id,
        stdio: this.rec.stdio,
        tty: this.rec.stdio.terminal ? this.terminalPaths() : undefined,
        run: { processSpec: join(this.dir, "process.json") },
        controlDir: this.dir,
      });
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

  #onExit(exit: ExitInfo): Promise<void> {
    const c = this.container;
    return this.proc.reportExit(exit, (event) =>
      c.env.events.publish(c.namespace, Topic.TaskExit, TaskExitSchema, {
        containerId: c.id,
        id: this.id,
        ...event,
      }),
    );
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
