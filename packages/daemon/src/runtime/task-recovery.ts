/**
 * Recovery of the daemon's tasks after a restart, and the bookkeeping of
 * tasks whose shim is gone: rebuilding the task list from the bundles
 * (reconnecting to live shims, burying dead ones with /tasks/exit and
 * /tasks/delete, removing bundles of creates that never finished), reading a
 * sandbox's task again when its task API comes back, and the "unknown exit"
 * (status 255) of a task whose real exit is lost.
 */
import { timestampFromMs, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { isNotFound } from "@sandboxd/errdefs";
import { sleep, withLogFields, withNamespace, type Ctx } from "@sandboxd/core";
import { Topic } from "@sandboxd/api";
import { TaskDeleteSchema, TaskExitSchema } from "@sandboxd/api/events/task_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { publishEvent, type Publisher } from "../events/exchange.js";
import { BundleFile, deleteBundle, listBundles, type Bundle, type BundleDirs } from "./bundle.js";
import type { ExitInfo, Shim } from "./shim.js";
import type { ShimManager } from "./shim-manager.js";
import { Task } from "./task.js";

export interface TaskManagerOptions {
  dirs: BundleDirs;
  shims: ShimManager;
  publisher: Publisher;
  /** Which containers exist (tasks of deleted containers are cleaned up at load). */
  containerExists: (ctx: Ctx, id: string) => boolean;
  /** The daemon's root context: background work (cleanups, dead shims) derives from it. */
  root: Ctx;
  /** How long recovery waits for a task's State (default 5 s); a slower task API is asked again. */
  stateTimeoutMs?: number;
}

const shutdownTimeoutMs = 3000;
const defaultStateTimeoutMs = 5000;
/** Back-off for asking a sandbox's task API again about a task it has not confirmed. */
const firstAskAgainMs = 500;
const maxAskAgainMs = 30_000;

/** What recovery needs of the TaskManager's table of tasks. */
export interface TaskTable {
  /** Adds a task and watches its shim. */
  add(task: Task): void;
  /** Whether an exit of the task's init process has been published. */
  exitSeen(namespace: string, id: string): boolean;
  /** Drops a task that turned out never to have been created. */
  remove(task: Task): void;
  /** Whether the task is still the one in the table, neither being deleted nor closing. */
  current(task: Task): boolean;
}

export class TaskRecovery {
  readonly #o: TaskManagerOptions;
  readonly #table: TaskTable;
  /**
   * Tasks loaded from a bundle whose sandbox task API has not answered State
   * yet (down, or too slow at start-up). Until it does, the task may never
   * have been created: a crash during Tasks.Create leaves the same bundle.
   */
  readonly #unconfirmed = new WeakSet<Task>();
  readonly #closed = new AbortController();

  constructor(options: TaskManagerOptions, table: TaskTable) {
    this.#o = options;
    this.#table = table;
  }

  /** Stops asking unconfirmed tasks again (daemon shutdown). */
  close(): void {
    this.#closed.abort();
  }

  /**
   * Rebuilds the task list from the bundles after a start: reconnects to live
   * shims, cleans up after dead ones (publishing /tasks/exit and /tasks/delete
   * and keeping the exit for Wait), and removes bundles of tasks that never
   * finished being created or whose container is gone.
   */
  async load(ctx: Ctx): Promise<{ live: number; dead: number; removed: number }> {
    const counts = { live: 0, dead: 0, removed: 0 };
    const bundles = await listBundles(this.#o.dirs);
    await Promise.all(
      bundles.map(async (bundle) => {
        const c = withLogFields(withNamespace(ctx, bundle.namespace), { id: bundle.id });
        try {
          counts[await this.#loadOne(c, bundle)]++;
        } catch (err) {
          c.log.error({ error: err }, "failed to load task");
        }
      }),
    );
    return counts;
  }

  async #loadOne(ctx: Ctx, bundle: Bundle): Promise<"live" | "dead" | "removed"> {
    const exitText = await bundle.read(BundleFile.Exit);
    if (exitText !== undefined) {
      const exit = JSON.parse(exitText) as ExitInfo;
      this.#table.add(tombstone(bundle, exit));
      return "dead";
    }
    if (!this.#o.containerExists(ctx, bundle.id)) {
      ctx.log.info("removing the bundle of a task whose container is gone");
      await this.#o.shims.cleanupDead(ctx, bundle);
      await deleteBundle(bundle);
      return "removed";
    }
    let shim: Shim;
    try {
      shim = await this.#o.shims.load(ctx, bundle);
    } catch (err) {
      if (isNotFound(err)) {
        // Crashed between creating the bundle and starting the shim: no task was created.
        await this.#o.shims.cleanupDead(ctx, bundle);
        await deleteBundle(bundle);
        return "removed";
      }
      ctx.log.warn({ error: err }, "shim is gone, cleaning up");
      const exit = await this.cleanupDead(ctx, bundle);
      this.#table.add(tombstone(bundle, exit));
      return "dead";
    }
    let state;
    try {
      state = await shim.connection.api.state({ id: bundle.id }, { timeoutMs: this.#stateTimeout });
    } catch (err) {
      if (shim.kind === "sandbox" && !isNotFound(err)) {
        // The sandboxer is down or slow: the task is not dead, nor known to exist. It is
        // kept UNKNOWN and asked again (and on reconnect) until the sandboxer says which.
        ctx.log.warn({ error: err }, "sandbox task API did not answer, task kept");
        const task = new Task({
          namespace: bundle.namespace,
          id: bundle.id,
          bundle,
          runtime: "",
          shim,
          pid: 0,
          status: Status.UNKNOWN,
        });
        this.#unconfirmed.add(task);
        this.#table.add(task);
        void this.#askAgain(ctx, task, shim);
        return "live";
      }
      if (!isNotFound(err)) throw err;
      // The shim never got the task (crash during Create): undo the shim and the bundle.
      await teardownShim(ctx, shim, true);
      await deleteBundle(bundle);
      return "removed";
    }
    const task = new Task({
      namespace: bundle.namespace,
      id: bundle.id,
      bundle,
      runtime: (await bundle.read(BundleFile.ShimBinaryPath))?.trim() ?? "",
      shim,
      pid: state.pid,
      status: state.status,
    });
    this.#table.add(task);
    if (state.status === Status.STOPPED) {
      // The exit may have happened while the daemon was down: publish it (again).
      publishExit(this.#o.publisher, ctx, bundle.id, {
        pid: state.pid,
        exitStatus: state.exitStatus,
        exitedAt: state.exitedAt ? timestampMs(state.exitedAt) : Date.now(),
      });
    }
    return "live";
  }

  /**
   * The sandbox's task API came back (the sandboxer restarted): read the task
   * again, publish an exit that happened meanwhile (unless it was already
   * published), and bury a task the sandboxer no longer knows.
   */
  async resync(task: Task, shim: Shim): Promise<void> {
    const ctx = withLogFields(withNamespace(this.#o.root, task.namespace), { id: task.id });
    let state;
    try {
      state = await shim.connection.api.state({ id: task.id }, { timeoutMs: this.#stateTimeout });
    } catch (err) {
      if (!isNotFound(err)) {
        ctx.log.warn({ error: err }, "reading the task after reconnecting failed");
        return;
      }
      await this.#gone(ctx, task, shim);
      return;
    }
    this.#apply(ctx, task, state);
  }

  get #stateTimeout(): number {
    return this.#o.stateTimeoutMs ?? defaultStateTimeoutMs;
  }

  /** Asks an unconfirmed task's sandbox again, with back-off, until it answers either way. */
  async #askAgain(ctx: Ctx, task: Task, shim: Shim): Promise<void> {
    let delay = firstAskAgainMs;
    while (this.#unconfirmed.has(task)) {
      if (!(await sleep(delay, this.#closed.signal))) return;
      if (!this.#unconfirmed.has(task) || !this.#table.current(task) || task.shim !== shim) return;
      delay = Math.min(delay * 2, maxAskAgainMs);
      let state;
      try {
        state = await shim.connection.api.state(
          { id: task.id },
          { timeoutMs: this.#stateTimeout, signal: this.#closed.signal },
        );
      } catch (err) {
        if (!isNotFound(err)) continue;
        await this.#gone(ctx, task, shim);
        return;
      }
      this.#apply(ctx, task, state);
    }
  }

  /** A State answer: pid and status taken, an exit that nobody saw published. */
  #apply(
    ctx: Ctx,
    task: Task,
    state: { pid: number; status: Status; exitStatus: number; exitedAt?: Timestamp | undefined },
  ): void {
    this.#unconfirmed.delete(task);
    task.pid = state.pid || task.pid;
    task.status = state.status;
    if (state.status === Status.STOPPED && !this.#table.exitSeen(task.namespace, task.id)) {
      publishExit(this.#o.publisher, ctx, task.id, {
        pid: state.pid,
        exitStatus: state.exitStatus,
        exitedAt: state.exitedAt ? timestampMs(state.exitedAt) : Date.now(),
      });
    }
  }

  /**
   * The sandbox does not know the task. One it had confirmed is gone (its exit is
   * lost: 255); one never confirmed since the restart was never created, so it is
   * removed with its bundle and no exit is invented for it.
   */
  async #gone(ctx: Ctx, task: Task, shim: Shim): Promise<void> {
    if (task.shim !== shim || task.deleting) return;
    if (this.#unconfirmed.has(task)) {
      this.#unconfirmed.delete(task);
      ctx.log.warn("the sandbox never created the task: its bundle is removed");
      task.shim = undefined;
      await teardownShim(ctx, shim, true);
      // Dropped once its bundle is gone: a new create of the id then finds nothing in its way.
      await deleteBundle(task.bundle);
      this.#table.remove(task);
      return;
    }
    ctx.log.warn("the sandbox no longer knows the task: it is gone");
    task.shim = undefined;
    task.status = Status.STOPPED;
    task.exit = await this.cleanupDead(ctx, task.bundle);
    await shim.connection.close();
  }

  /** Runs the shim binary's `delete`, records and publishes the exit; 255 if unknown. */
  async cleanupDead(ctx: Ctx, bundle: Bundle): Promise<ExitInfo> {
    const exit =
      (await this.#o.shims.cleanupDead(ctx, bundle).catch(() => undefined)) ?? unknownExit(0);
    await bundle.write(BundleFile.Exit, JSON.stringify(exit));
    publishExit(this.#o.publisher, ctx, bundle.id, exit);
    publishDelete(this.#o.publisher, ctx, bundle.id, exit);
    return exit;
  }
}

/**
 * The exit of a task whose real exit is lost (its shim died without saying,
 * or its task API cannot be reached): status 255 now, as containerd reports it.
 */
export function unknownExit(pid: number): ExitInfo {
  return { pid, exitStatus: 255, exitedAt: Date.now() };
}

/** A task whose shim is gone: only its exit is left, for Wait and Delete. */
function tombstone(bundle: Bundle, exit: ExitInfo): Task {
  return new Task({
    namespace: bundle.namespace,
    id: bundle.id,
    bundle,
    runtime: "",
    shim: undefined,
    pid: exit.pid,
    status: Status.STOPPED,
    exit,
  });
}

/** Publishes /tasks/exit for a task's init process. */
export function publishExit(publisher: Publisher, ctx: Ctx, id: string, exit: ExitInfo): void {
  publishEvent(publisher, ctx, Topic.TaskExit, TaskExitSchema, {
    containerId: id,
    id,
    pid: exit.pid,
    exitStatus: exit.exitStatus,
    exitedAt: timestampFromMs(exit.exitedAt),
  });
}

/** Publishes /tasks/delete for a task that is gone. */
export function publishDelete(publisher: Publisher, ctx: Ctx, id: string, exit: ExitInfo): void {
  publishEvent(publisher, ctx, Topic.TaskDelete, TaskDeleteSchema, {
    containerId: id,
    pid: exit.pid,
    exitStatus: exit.exitStatus,
    exitedAt: timestampFromMs(exit.exitedAt),
  });
}

/** Shutdown (binary shims only: a sandbox decides itself), then close the connection. */
export async function teardownShim(ctx: Ctx, shim: Shim, cleanup: boolean): Promise<void> {
  if (shim.kind === "binary" && !shim.connection.closed) {
    await shim.connection.api
      .shutdown(
        { id: shim.bundle.id, now: false },
        { signal: ctx.signal, timeoutMs: shutdownTimeoutMs },
      )
      .catch(() => undefined);
  }
  await shim.connection.close();
  if (cleanup) {
    shim.release();
    await shim.cleanup(ctx);
  }
}
