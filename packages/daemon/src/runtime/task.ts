/**
 * One task as the daemon knows it: the container's init process and its
 * execs, served by a shim (or by its sandbox). When the shim is gone, the
 * task stays as a record of how it ended (`exit`) until it is deleted, so
 * Wait and Get still answer for an exit that happened while nobody watched.
 */
import { create } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { isUnavailable, notFound } from "@sandboxd/errdefs";
import type { Ctx } from "@sandboxd/core";
import {
  StateResponseSchema,
  type PidsResponse,
  type StateResponse,
  type StatsResponse,
} from "@sandboxd/api/runtime/task/v2/shim_pb";
import type { Mount } from "@sandboxd/api/types/mount_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";
import type { Bundle } from "./bundle.js";
import type { ExitInfo, Shim } from "./shim.js";
import type { TaskApi } from "./task-client.js";

export interface ProcessIO {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

export interface ExecRequest extends ProcessIO {
  execId: string;
  spec?: Any | undefined;
}

export interface CreateTaskOptions extends ProcessIO {
  rootfs: Mount[];
  options?: Any | undefined;
  /** Overrides the container's runtime name (Tasks.Create runtime_path). */
  runtimePath?: string | undefined;
}

/** The shim call options for a request: its cancellation and deadline. */
export function callOptions(ctx: Ctx): { signal: AbortSignal; deadline: number | undefined } {
  return { signal: ctx.signal, deadline: ctx.deadline };
}

export class Task {
  readonly namespace: string;
  readonly id: string;
  readonly bundle: Bundle;
  readonly runtime: string;
  /** undefined once the shim is gone; `exit` then says how the task ended. */
  shim: Shim | undefined;
  pid: number;
  /** Last known status of the init process, kept from events (for metrics and listings). */
  status: Status;
  exit: ExitInfo | undefined;
  /** Set while Tasks.Delete runs, so the closing connection is not taken for a crash. */
  deleting = false;

  constructor(init: {
    namespace: string;
    id: string;
    bundle: Bundle;
    runtime: string;
    shim: Shim | undefined;
    pid: number;
    status: Status;
    exit?: ExitInfo | undefined;
  }) {
    this.namespace = init.namespace;
    this.id = init.id;
    this.bundle = init.bundle;
    this.runtime = init.runtime;
    this.shim = init.shim;
    this.pid = init.pid;
    this.status = init.status;
    this.exit = init.exit;
  }

  /** The task API; NotFound once the shim is gone (the process has finished). */
  get api(): TaskApi {
    if (!this.shim) throw notFound("process already finished");
    return this.shim.connection.api;
  }

  async state(ctx: Ctx, execId = ""): Promise<StateResponse> {
    if (!this.shim) {
      if (execId !== "") throw notFound(`process ${execId}`);
      return create(StateResponseSchema, {
        id: this.id,
        bundle: this.bundle.path,
        pid: this.exit?.pid ?? this.pid,
        status: Status.STOPPED,
        exitStatus: this.exit?.exitStatus ?? 255,
        exitedAt: timestampFromMs(this.exit?.exitedAt ?? Date.now()),
      });
    }
    return this.api.state({ id: this.id, execId }, callOptions(ctx));
  }

  /**
   * Waits for the process to exit. For a task served by its sandbox, a lost
   * connection is not the end: the wait is made again once the task API is
   * back (the sandboxer restarted), for as long as the caller waits.
   */
  async wait(ctx: Ctx, execId = ""): Promise<ExitInfo> {
    for (;;) {
      if (!this.shim && execId === "" && this.exit) return this.exit;
      const connection = this.shim?.connection;
      try {
        const r = await this.api.wait({ id: this.id, execId }, callOptions(ctx));
        return {
          pid: this.pid,
          exitStatus: r.exitStatus,
          exitedAt: r.exitedAt ? timestampMs(r.exitedAt) : 0,
        };
      } catch (err) {
        if (!isUnavailable(err) || !connection?.ready || ctx.signal.aborted) throw err;
        try {
          await connection.ready(ctx.signal);
        } catch (notBack) {
          // Closed for good: the task was deleted or buried (then `exit` says how it ended).
          if (this.shim?.connection === connection || ctx.signal.aborted) throw notBack;
        }
      }
    }
  }

  async start(ctx: Ctx, execId = ""): Promise<number> {
    const r = await this.api.start({ id: this.id, execId }, callOptions(ctx));
    if (execId === "") this.pid = r.pid;
    return r.pid;
  }

  async kill(ctx: Ctx, signal: number, all: boolean, execId = ""): Promise<void> {
    await this.api.kill({ id: this.id, execId, signal, all }, callOptions(ctx));
  }

  async exec(ctx: Ctx, request: ExecRequest): Promise<void> {
    await this.api.exec({ id: this.id, ...request }, callOptions(ctx));
  }

  async deleteProcess(ctx: Ctx, execId: string): Promise<ExitInfo> {
    const r = await this.api.delete({ id: this.id, execId }, callOptions(ctx));
    return {
      pid: r.pid,
      exitStatus: r.exitStatus,
      exitedAt: r.exitedAt ? timestampMs(r.exitedAt) : 0,
    };
  }

  async resizePty(ctx: Ctx, width: number, height: number, execId = ""): Promise<void> {
    await this.api.resizePty({ id: this.id, execId, width, height }, callOptions(ctx));
  }

  async closeIO(ctx: Ctx, stdin: boolean, execId = ""): Promise<void> {
    await this.api.closeIO({ id: this.id, execId, stdin }, callOptions(ctx));
  }

  async pause(ctx: Ctx): Promise<void> {
    await this.api.pause({ id: this.id }, callOptions(ctx));
  }

  async resume(ctx: Ctx): Promise<void> {
    await this.api.resume({ id: this.id }, callOptions(ctx));
  }

  pids(ctx: Ctx): Promise<PidsResponse> {
    return this.api.pids({ id: this.id }, callOptions(ctx));
  }

  async update(
    ctx: Ctx,
    resources: Any | undefined,
    annotations: Record<string, string>,
  ): Promise<void> {
    await this.api.update({ id: this.id, resources, annotations }, callOptions(ctx));
  }

  stats(ctx: Ctx): Promise<StatsResponse> {
    return this.api.stats({ id: this.id }, callOptions(ctx));
  }
}
