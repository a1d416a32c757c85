// What a task (a container's init process) and an exec process share: wait,
// kill, resize, stdin, state. Both are addressed by (container id, exec id).
import { constants } from "node:os";
import { invalidArgument } from "@sandboxd/errdefs";
import type { Process as ProcessMessage } from "@sandboxd/api/types/task/task_pb";
import type { CallOptions } from "./call-options.js";
import type { ExitStatus, ProcessStatus } from "./convert.js";
import { processStatusOf, toDate, required } from "./convert.js";
import type { TaskIO } from "./cio/io.js";
import type { Session } from "./session.js";

/** A signal by name (`"SIGTERM"`) or number (15). */
export type Signal = NodeJS.Signals | number;

/** The state of a task or exec process, as the daemon reports it. */
export interface ProcessState {
  /** The container id. */
  containerId: string;
  /** The exec id; the container id for a task's init process. */
  id: string;
  pid: number;
  status: ProcessStatus;
  /** Meaningful once `status` is `stopped`. */
  exitStatus: number;
  exitedAt: Date | undefined;
  /** The FIFO paths the process was created with ("" for none). */
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

/** Options of {@link ProcessBase.kill}. */
export interface KillOptions {
  /** Signal every process of the container, not only this one. */
  all?: boolean;
}

/** The signal number of `signal`. */
export function signalNumber(signal: Signal): number {
  if (typeof signal === "number") {
    if (!Number.isInteger(signal) || signal <= 0 || signal > 64) {
      throw invalidArgument(`signal ${signal} is out of range`);
    }
    return signal;
  }
  const name = signal.toUpperCase().startsWith("SIG")
    ? signal.toUpperCase()
    : `SIG${signal.toUpperCase()}`;
  const number = (constants.signals as Record<string, number | undefined>)[name];
  if (number === undefined) throw invalidArgument(`unknown signal ${JSON.stringify(signal)}`);
  return number;
}

/** `containerId` fills in what containerd leaves out (its Process.container_id is often empty). */
/** Tasks.CloseIO for a process's stdin, as a function for the IO to call. */
export function stdinCloser(
  session: Session,
  containerId: string,
  execId: string,
  call?: CallOptions,
): () => Promise<void> {
  return async () => {
    await session.services.tasks.closeIO(
      { containerId, execId, stdin: true },
      session.call({ timeoutMs: call?.timeoutMs }),
    );
  };
}

export function processStateOf(
  p: ProcessMessage,
  containerId = p.containerId || p.id,
): ProcessState {
  return {
    containerId: p.containerId || containerId,
    id: p.id,
    pid: p.pid,
    status: processStatusOf(p.status),
    exitStatus: p.exitStatus,
    exitedAt: toDate(p.exitedAt),
    stdin: p.stdin,
    stdout: p.stdout,
    stderr: p.stderr,
    terminal: p.terminal,
  };
}

/** The operations a task and an exec process have in common. */
export abstract class ProcessBase {
  /** The container this process runs in. */
  readonly containerId: string;
  /** The IO the SDK copies for this process, if it made or attached one. */
  readonly io: TaskIO | undefined;
  /** @internal */
  protected readonly session: Session;
  /** @internal "" for a task's init process. */
  protected readonly execId: string;
  #drained: Promise<void> | undefined;

  /** @internal */
  protected constructor(
    session: Session,
    containerId: string,
    execId: string,
    io: TaskIO | undefined,
  ) {
    this.session = session;
    this.containerId = containerId;
    this.execId = execId;
    this.io = io;
  }

  /** The process id in the host's PID namespace (0 before start for an exec). */
  abstract get pid(): number;

  /**
   * Resolves when the process exits, after its output has been copied. Call it
   * before `start()` to be sure to see a fast exit (like Go's `Wait` channel):
   * the RPC is sent at once.
   */
  async wait(options?: CallOptions): Promise<ExitStatus> {
    const response = await this.session.services.tasks.wait(
      { containerId: this.containerId, execId: this.execId },
      this.session.call(options),
    );
    if (this.io) await (this.#drained ??= this.io.drain());
    return { exitStatus: response.exitStatus, exitedAt: toDate(response.exitedAt) };
  }

  /** Sends `signal` (default SIGTERM). */
  async kill(
    signal: Signal = "SIGTERM",
    options: KillOptions = {},
    call?: CallOptions,
  ): Promise<void> {
    await this.session.services.tasks.kill(
      {
        containerId: this.containerId,
        execId: this.execId,
        signal: signalNumber(signal),
        all: options.all ?? false,
      },
      this.session.call(call),
    );
  }

  /** Resizes the terminal of a process created with one. */
  async resize(width: number, height: number, call?: CallOptions): Promise<void> {
    await this.session.services.tasks.resizePty(
      { containerId: this.containerId, execId: this.execId, width, height },
      this.session.call(call),
    );
  }

  /**
   * Gives the process EOF on stdin: SDK-made IO stops copying (the shim is then
   * told by the IO, after the input copied so far); otherwise the shim is
   * asked at once (Tasks.CloseIO).
   */
  async closeStdin(call?: CallOptions): Promise<void> {
    if (this.io && this.io.config.stdin !== "") {
      this.io.closeStdin();
      return;
    }
    await stdinCloser(this.session, this.containerId, this.execId, call)();
  }

  /** The process's current state. */
  async status(call?: CallOptions): Promise<ProcessState> {
    const response = await this.session.services.tasks.get(
      { containerId: this.containerId, execId: this.execId },
      this.session.call(call),
    );
    const process = required(response.process, `task "${this.containerId}"`, "process");
    return processStateOf(process, this.containerId);
  }
}

/** A process executed in a running task (`task.exec`). */
export class Process extends ProcessBase {
  #pid = 0;

  /** @internal use `task.exec()` */
  constructor(session: Session, containerId: string, execId: string, io: TaskIO | undefined) {
    super(session, containerId, execId, io);
  }

  /** The exec id. */
  get id(): string {
    return this.execId;
  }

  get pid(): number {
    return this.#pid;
  }

  /** Starts the process; returns its pid. */
  async start(call?: CallOptions): Promise<number> {
    const response = await this.session.services.tasks.start(
      { containerId: this.containerId, execId: this.execId },
      this.session.call(call),
    );
    this.#pid = response.pid;
    return response.pid;
  }

  /** Removes the stopped process from the task; returns how it exited. */
  async delete(call?: CallOptions): Promise<ExitStatus & { pid: number }> {
    const response = await this.session.services.tasks.deleteProcess(
      { containerId: this.containerId, execId: this.execId },
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
