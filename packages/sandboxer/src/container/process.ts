/**
 * What the init process of a container and each exec have in common: a conmon
 * monitor, a directory where conmon records the exit and we keep the record,
 * the stdin write end we hold, the start/exit ordering, the exit as a promise
 * and as the /tasks/exit event. Exits are learned from the `exit` file
 * (inotify + a check after arming, for exits that happened while we were down),
 * from the end of the sync pipe, and from a periodic sweep that notices a
 * monitor that died without writing one.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { TaskExitSchema } from "@sandboxd/api/events/task_pb";
import { Topic } from "@sandboxd/api/names";
import { failedPrecondition } from "@sandboxd/errdefs";
import type { Env } from "../env.js";
import { writeJsonAtomic } from "../state/atomic.js";
import type { ProcessStatus } from "../state/records.js";
import { ts } from "../util/time.js";
import type { ExitInfo } from "./exit-watch.js";
import { hasOomFile, readExitFile, watchExitDir } from "./exit-watch.js";
import type { StdinPump } from "./io.js";
import type { TerminalOutput } from "./terminal.js";

export interface ProcState {
  status: ProcessStatus;
  pid: number;
  conmonPid: number;
  exitStatus?: number | undefined;
  exitedAt?: number | undefined;
  exitPublished?: boolean | undefined;
  ttyInputPid?: number | undefined;
  startedAt?: number | undefined;
}

/** The part of /tasks/exit the process knows; the caller adds whose it is. */
export interface ExitEvent {
  pid: number;
  exitStatus: number;
  exitedAt: Timestamp;
}

/** Whose process it is: the container's init (`id` is the container's) or one of its execs. */
export interface ProcOwner {
  readonly env: Env;
  /** The file in the process's directory that holds its record (whose state this is). */
  readonly recordFile: string;
  readonly namespace: string;
  readonly containerId: string;
  /** The exec id, or the container's id for its init (as /tasks/exit names them). */
  readonly id: string;
  /** An OOM kill seen in the process's directory (the init's; execs share its cgroup). */
  onOom?(): void;
}

export class Proc {
  readonly dir: string;
  readonly state: ProcState;
  /** Copies the client's stdin into the process (until EOF, CloseIO or exit). */
  stdin: StdinPump | undefined;
  /** A terminal's output, tailed from conmon's log into the client's stdout. */
  terminal: TerminalOutput | undefined;
  readonly #owner: ProcOwner;
  #stopWatch: (() => void) | undefined;
  #exit: Promise<ExitInfo>;
  #resolveExit!: (e: ExitInfo) => void;
  #handling = false;
  #oomSeen = false;
  #started: Promise<void>;
  #resolveStarted!: () => void;
  /** A start in flight: an exit meanwhile is published after its start event. */
  #startPending: Promise<void> | undefined;

  constructor(dir: string, state: ProcState, owner: ProcOwner) {
    this.dir = dir;
    this.state = state;
    this.#owner = owner;
    this.#exit = new Promise((resolve) => (this.#resolveExit = resolve));
    this.#started = new Promise((resolve) => (this.#resolveStarted = resolve));
    if (state.status === "stopped" && state.exitStatus !== undefined) {
      this.#resolveExit({ status: state.exitStatus, at: state.exitedAt ?? Date.now() });
    }
    if (state.status === "running" || state.status === "stopped") this.#resolveStarted();
  }

  get exited(): Promise<ExitInfo> {
    return this.#exit;
  }

  get isRunning(): boolean {
    return this.state.status === "running";
  }

  /** The start event was published (exit events wait for it). */
  markStarted(): void {
    this.#resolveStarted();
  }

  /**
   * Runs the start of the process (runc start, or the exec's spawn and its
   * start event), then marks it started whatever the outcome. The init and
   * every exec start this way, so an exit that races the start is reported
   * after it. FailedPrecondition naming `what` unless it is created.
   */
  async starting<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const { status } = this.state;
    if (status !== "created") throw failedPrecondition(`${what} is ${status}: cannot start`);
    let done!: () => void;
    this.#startPending = new Promise((resolve) => (done = resolve));
    try {
      return await fn();
    } finally {
      this.markStarted();
      done();
    }
  }

  /** Persists the record whose state this is (not fsynced unless `durable`: see writeFileAtomic). */
  async save(durable = false): Promise<void> {
    await writeJsonAtomic(join(this.dir, this.#owner.recordFile), this.state, durable);
  }

  /** Inside starting(): the start succeeded, so running (unless its exit came first) since now. */
  async recordStart(): Promise<void> {
    if (this.state.status === "created") this.state.status = "running";
    this.state.startedAt = Date.now();
    await this.save();
  }

  /**
   * Reports an exit once: the record is saved, a start in flight is waited
   * for, /tasks/exit is published unless it was already (before a restart),
   * and that it was is saved.
   */
  async #reportExit(exit: ExitInfo): Promise<void> {
    const save = (): Promise<void> => this.save().catch(() => undefined);
    await save();
    if (this.#startPending) await this.#startPending;
    if (this.state.exitPublished) return;
    const { env, namespace, containerId, id } = this.#owner;
    const event: ExitEvent = {
      pid: this.state.pid,
      exitStatus: exit.status,
      exitedAt: ts(exit.at),
    };
    env.events.publish(namespace, Topic.TaskExit, TaskExitSchema, { containerId, id, ...event });
    this.state.exitPublished = true;
    await save();
  }

  /** A failure while handling an exit: logged; the exit itself is still recorded. */
  #report(err: unknown): void {
    const { env, namespace, containerId, id } = this.#owner;
    const exec = id === containerId ? {} : { exec_id: id };
    env.root.log.error({ namespace, id: containerId, ...exec, error: err }, "exit handling failed");
  }

  get started(): Promise<void> {
    return this.#started;
  }

  /** Arms the exit watch and checks once for an exit that already happened. */
  watch(): void {
    if (this.#stopWatch || this.state.status === "stopped") return;
    const report = (err: unknown): void => this.#report(err);
    this.#stopWatch = watchExitDir(this.dir, (name) => {
      if (name === "exit") this.check().catch(report);
      else this.#checkOom().catch(report);
    });
    this.check().catch(report);
    this.#checkOom().catch(report);
  }

  /**
   * After a restart: an exit recorded but not yet published is published now; a
   * live process gets its watch back, and an exit that happened while we were
   * down (file present, or monitor gone) is handled.
   */
  async recover(): Promise<void> {
    if (this.state.status === "stopped") {
      if (!this.state.exitPublished && this.state.exitStatus !== undefined) {
        await this.#reportExit({
          status: this.state.exitStatus,
          at: this.state.exitedAt ?? Date.now(),
        });
      }
      return;
    }
    this.watch();
    if (!(await this.check())) await this.checkMonitor();
  }

  /** Looks for the exit file; also used by the sweep and at the end of the sync pipe. */
  async check(): Promise<boolean> {
    if (this.state.status === "stopped" || this.#handling) return this.state.status === "stopped";
    const exit = await readExitFile(this.dir);
    if (!exit) return false;
    await this.#exited(exit);
    return true;
  }

  /**
   * Whether the monitor is gone without recording an exit (killed, crashed): then
   * the exit is reported as 255, like a shim whose process state was lost.
   */
  async checkMonitor(): Promise<void> {
    if (this.state.status === "stopped") return;
    // No monitor yet (an exec created but not started, or starting): nothing has died.
    if (this.state.conmonPid <= 0) return;
    if (await isConmon(this.state.conmonPid)) return;
    if (await this.check()) return;
    if (this.state.pid > 0 && isAlive(this.state.pid)) return;
    await this.#exited({ status: 255, at: Date.now() });
  }

  async #exited(exit: ExitInfo): Promise<void> {
    if (this.#handling || this.state.status === "stopped") return;
    this.#handling = true;
    this.#stopWatch?.();
    this.#stopWatch = undefined;
    this.stdin?.destroy();
    this.stdin = undefined;
    // Everything the process printed reaches the client before Wait answers.
    await this.terminal?.finish();
    this.terminal = undefined;
    await this.#stopTtyInput();
    this.state.status = "stopped";
    this.state.exitStatus = exit.status;
    this.state.exitedAt = exit.at;
    try {
      await this.#reportExit(exit);
    } finally {
      this.#resolveExit(exit);
    }
  }

  async #checkOom(): Promise<void> {
    if (this.#oomSeen) return;
    if (await hasOomFile(this.dir)) {
      this.#oomSeen = true;
      this.#owner.onOom?.();
    }
  }

  closeStdin(): void {
    this.stdin?.close();
    this.stdin = undefined;
    void this.#stopTtyInput();
  }

  /** Stops the socat feeding a terminal (it may wait forever for a client that never writes). */
  async #stopTtyInput(): Promise<void> {
    const pid = this.state.ttyInputPid;
    if (!pid) return;
    this.state.ttyInputPid = undefined;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (!cmdline.split("\0")[0]?.endsWith("socat")) return;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }

  close(): void {
    this.#stopWatch?.();
    this.#stopWatch = undefined;
    this.stdin?.destroy();
    this.stdin = undefined;
    this.terminal?.close();
    this.terminal = undefined;
    void this.#stopTtyInput();
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether `pid` is a conmon (and not a recycled pid). */
export async function isConmon(pid: number): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.split("\0")[0]?.endsWith("conmon") ?? false;
  } catch {
    return false;
  }
}
