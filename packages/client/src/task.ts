// A container's task: its init process plus what only a task has (start,
// pause, pids, metrics, exec, delete).
import { JsonTypeUrl, packJson, unpackAs } from "@sandboxd/api/names";
import { failedPrecondition, notFound } from "@sandboxd/errdefs";
import type { CallOptions } from "./call-options.js";
import type { ExitStatus } from "./convert.js";
import { ProcessStatus, toDate } from "./convert.js";
import type { IOCreator } from "./cio/io.js";
import { nullIO } from "./cio/io.js";
import type { Metrics } from "./metrics.js";
import { decodeMetric } from "./metrics.js";
import type { LinuxResources, Process as ProcessSpec } from "./oci/types.js";
import { packProcess } from "./oci/spec.js";
import { Process, ProcessBase, stdinCloser } from "./process.js";
import type { TaskIO } from "./cio/io.js";
import type { Session } from "./session.js";

/** A process of a task, from `task.pids()`. */
export interface ProcessInfo {
  pid: number;
  /** The exec id, when the runtime says which exec the pid belongs to. */
  execId: string | undefined;
}

/** Options of {@link Task.exec}. */
export interface ExecOptions {
  /** The process's IO (default: none). */
  io?: IOCreator;
}

/** Options of {@link Task.delete}. */
export interface DeleteTaskOptions {
  /** Kill a task that is still running (SIGKILL to all its processes) instead of refusing. */
  force?: boolean;
}

/** The running instance of a container (containerd's Task). */
export class Task extends ProcessBase {
  readonly #pid: number;
  #startedPid: number | undefined;

  /** @internal use `container.newTask()` or `container.task()` */
  constructor(session: Session, containerId: string, pid: number, io: TaskIO | undefined) {
    super(session, containerId, "", io);
    this.#pid = pid;
  }

  /** The task's id: its container's id. */
  get id(): string {
    return this.containerId;
  }

  /** The init process's pid in the host's PID namespace. */
  get pid(): number {
    return this.#startedPid ?? this.#pid;
  }

  /** Starts the init process. */
  async start(call?: CallOptions): Promise<void> {
    const response = await this.session.services.tasks.start(
      { containerId: this.containerId },
      this.session.call(call),
    );
    if (response.pid !== 0) this.#startedPid = response.pid;
  }

  /** Freezes every process of the task. */
  async pause(call?: CallOptions): Promise<void> {
    await this.session.services.tasks.pause(
      { containerId: this.containerId },
      this.session.call(call),
    );
  }

  /** Thaws a paused task. */
  async resume(call?: CallOptions): Promise<void> {
    await this.session.services.tasks.resume(
      { containerId: this.containerId },
      this.session.call(call),
    );
  }

  /** The processes of the task. */
  async pids(call?: CallOptions): Promise<ProcessInfo[]> {
    const response = await this.session.services.tasks.listPids(
      { containerId: this.containerId },
      this.session.call(call),
    );
    // runc's options descriptor on first use (booting a descriptor costs start-up time).
    const { ProcessDetailsSchema } = await import("@sandboxd/api/types/runc/options/oci_pb");
    return response.processes.map((p) => {
      const details = p.info ? unpackAs(p.info, ProcessDetailsSchema) : undefined;
      return { pid: p.pid, execId: details?.execId || undefined };
    });
  }

  /** The task's resource usage (cgroup v1 or v2 stats). */
  async metrics(call?: CallOptions): Promise<Metrics> {
    const response = await this.session.services.tasks.metrics(
      { filters: [`id==${this.containerId}`] },
      this.session.call(call),
    );
    const metric = response.metrics.find((m) => m.id === this.containerId) ?? response.metrics[0];
    if (!metric) throw notFound(`metrics for task "${this.containerId}"`);
    return await decodeMetric(metric);
  }

  /** Changes the task's resources (and annotations). */
  async update(
    resources: LinuxResources,
    annotations: Record<string, string> = {},
    call?: CallOptions,
  ): Promise<void> {
    await this.session.services.tasks.update(
      {
        containerId: this.containerId,
        resources: packJson(JsonTypeUrl.LinuxResources, resources),
        annotations,
      },
      this.session.call(call),
    );
  }

  /**
   * Creates (but does not start) process `execId` in the task. Build `spec`
   * with `execProcess(containerSpec, { args })`.
   */
  async exec(
    execId: string,
    spec: ProcessSpec,
    options: ExecOptions = {},
    call?: CallOptions,
  ): Promise<Process> {
    const io = await (options.io ?? nullIO()).create(execId);
    try {
      await this.session.services.tasks.exec(
        {
          containerId: this.containerId,
          execId,
          stdin: io.config.stdin,
          stdout: io.config.stdout,
          stderr: io.config.stderr,
          terminal: io.config.terminal,
          spec: packProcess({ ...spec, terminal: io.config.terminal }),
        },
        this.session.call(call),
      );
    } catch (err) {
      await io.close();
      throw err;
    }
    io.started(stdinCloser(this.session, this.containerId, execId));
    return new Process(this.session, this.containerId, execId, io);
  }

  /** A process created earlier with `exec` (by this or another client), without IO. */
  loadProcess(execId: string): Process {
    return new Process(this.session, this.containerId, execId, undefined);
  }

  /**
   * Removes the stopped task and its IO; returns how it exited. Refuses a
   * running task unless `force`, which kills it first.
   */
  async delete(
    options: DeleteTaskOptions = {},
    call?: CallOptions,
  ): Promise<ExitStatus & { pid: number }> {
    const state = await this.status(call);
    const stopped =
      state.status === ProcessStatus.Stopped ||
      state.status === ProcessStatus.Unknown ||
      (state.status === ProcessStatus.Created && state.pid === 0);
    if (!stopped) {
      if (!options.force) {
        throw failedPrecondition(
          `task "${this.containerId}" must be stopped before deletion: ${state.status}`,
        );
      }
      await this.kill("SIGKILL", { all: true }, call);
      if (state.status === ProcessStatus.Paused || state.status === ProcessStatus.Pausing) {
        // A frozen process acts on SIGKILL only once thawed.
        await this.resume(call).catch(() => undefined);
      }
      await this.wait(call);
    }
    const response = await this.session.services.tasks.delete(
      { containerId: this.containerId },
      this.session.call(call),
    );
    await this.io?.close();
    return {
      pid: response.pid,
      exitStatus: response.exitStatus,
      exitedAt: toDate(response.exitedAt),
    };
  }
}
