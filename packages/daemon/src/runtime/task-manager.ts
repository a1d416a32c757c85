/**
 * The daemon's tasks (containerd's runtime v2 TaskManager plus its shim list):
 * creating a task (bundle → shim → Create → Connect, undone step by step on
 * failure), deleting one (Delete → Shutdown → close, then the shim binary's
 * `delete` and the bundle's removal in the background), noticing shims that
 * die, and rebuilding everything from the bundles after a restart.
 *
 * Tasks live in memory; what survives a crash is on disk: the bundles (with
 * `bootstrap.json` to reconnect) and, for a task whose shim died, `exit.json`.
 */
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  alreadyExists,
  isFailedPrecondition,
  isNotFound,
  isUnavailable,
  withMessage,
  Kind,
} from "@sandboxd/errdefs";
import {
  detached,
  namespaceRequired,
  withLogFields,
  withNamespace,
  withTimeout,
  type Ctx,
} from "@sandboxd/core";
import { Topic } from "@sandboxd/api";
import { TaskDeleteSchema, TaskExitSchema } from "@sandboxd/api/events/task_pb";
import type { Envelope } from "@sandboxd/api/types/event_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";
import { publishEvent, type Publisher } from "../events/exchange.js";
import type { Container } from "../metadata/types.js";
import { Rollback } from "../util/rollback.js";
import {
  BundleFile,
  createBundle,
  deleteBundle,
  listBundles,
  type Bundle,
  type BundleDirs,
} from "./bundle.js";
import type { ExitInfo, Shim } from "./shim.js";
import type { ShimManager } from "./shim-manager.js";
import { callOptions, Task, type CreateTaskOptions } from "./task.js";
import { taskEventKey, taskStatusFromEvent } from "./task-events.js";

export interface TaskManagerOptions {
  dirs: BundleDirs;
  shims: ShimManager;
  publisher: Publisher;
  /** Which containers exist (tasks of deleted containers are cleaned up at load). */
  containerExists: (ctx: Ctx, id: string) => boolean;
  /** The daemon's root context: background work (cleanups, dead shims) derives from it. */
  root: Ctx;
}

const shutdownTimeoutMs = 3000;
const cleanupTimeoutMs = 10_000;

export class TaskManager {
  readonly #o: TaskManagerOptions;
  readonly #tasks = new Map<string, Task>();
  readonly #creating = new Set<string>();
  /** Background cleanups (binary delete + bundle removal) by task key. */
  readonly #cleanups = new Map<string, Promise<void>>();
  /** Exits already published per task, so a shim's late retry is not published twice. */
  readonly #exits = new Map<string, Set<string>>();
  #closing = false;

  constructor(options: TaskManagerOptions) {
    this.#o = options;
  }

  get(ctx: Ctx, id: string): Task {
    const task = this.#tasks.get(key(namespaceRequired(ctx), id));
    if (!task) throw withMessage(Kind.NotFound, `task ${id} not found`);
    return task;
  }

  has(ctx: Ctx, id: string): boolean {
    return this.#tasks.has(key(namespaceRequired(ctx), id));
  }

  /** Tasks in the context's namespace. */
  list(ctx: Ctx): Task[] {
    const ns = namespaceRequired(ctx);
    return [...this.#tasks.values()].filter((t) => t.namespace === ns);
  }

  /** Every task, for metrics. */
  all(): Task[] {
    return [...this.#tasks.values()];
  }

  async create(ctx: Ctx, container: Container, options: CreateTaskOptions): Promise<Task> {
    const ns = namespaceRequired(ctx);
    const k = key(ns, container.id);
    if (this.#tasks.has(k) || this.#creating.has(k)) throw alreadyExists(`task ${container.id}`);
    const runtime = options.runtimePath || container.runtime.name;
    const shimOptions = options.options ?? container.runtime.options;
    this.#creating.add(k);
    const rollback = new Rollback();
    try {
      const route = await this.#o.shims.route(ctx, { container, runtime, options: shimOptions });
      await this.#cleanups.get(k);
      const bundle = await createBundle(this.#o.dirs, ns, container.id, container.spec?.value);
      rollback.push("remove bundle", () => deleteBundle(bundle));
      const shim = await this.#o.shims.start(
        ctx,
        { bundle, container, runtime, options: shimOptions },
        route,
      );
      rollback.push("stop shim", (c) => this.#teardown(c, shim, true));
      const api = shim.connection.api;
      if (shim.kind === "sandbox") {
        // Before the call: a Create cut off in transit (the sandboxer killed, the caller
        // gone) may still have made the task, which outlives the connection and would be
        // left there without a record. Undone once the sandboxer answers again.
        rollback.push("delete sandbox task", async (c) => {
          await shim.connection.ready?.(c.signal);
          await api.delete({ id: container.id }, callOptions(c)).catch((err: unknown) => {
            if (!isNotFound(err)) throw err;
          });
        });
      }
      const created = await api.create(
        {
          id: container.id,
          bundle: bundle.path,
          rootfs: options.rootfs,
          terminal: options.terminal,
          stdin: options.stdin,
          stdout: options.stdout,
          stderr: options.stderr,
          options: shimOptions,
        },
        callOptions(ctx),
      );
      if (shim.kind !== "sandbox") {
        rollback.push("delete shim task", (c) => api.delete({ id: container.id }, callOptions(c)));
      }
      const connected = await api.connect({ id: container.id }, callOptions(ctx));
      const task = new Task({
        namespace: ns,
        id: container.id,
        bundle,
        runtime,
        shim,
        pid: connected.taskPid || created.pid,
        status: Status.CREATED,
      });
      this.#add(task);
      rollback.clear();
      return task;
    } catch (err) {
      await rollback.run(ctx);
      throw err;
    } finally {
      this.#creating.delete(k);
    }
  }

  /**
   * Deletes the task: its shim deletes the init process (and publishes
   * /tasks/delete), shuts down, and the connection closes. The bundle's
   * removal (and the shim binary's `delete`, when the shim could not delete
   * the task) finish in the background; a new task with the same id waits for them.
   */
  async delete(ctx: Ctx, id: string): Promise<ExitInfo> {
    const task = this.get(ctx, id);
    const k = key(task.namespace, task.id);
    if (task.deleting) throw withMessage(Kind.FailedPrecondition, `task ${id}: delete in progress`);
    const shim = task.shim;
    if (!shim) {
      this.#remove(task);
      await this.#background(k, task.bundle, undefined);
      return task.exit ?? { pid: task.pid, exitStatus: 255, exitedAt: Date.now() };
    }
    task.deleting = true;
    let exit: ExitInfo;
    let deletedByShim = true;
    try {
      exit = await task.deleteProcess(ctx, "");
    } catch (err) {
      if (!isNotFound(err) && !isUnavailable(err)) {
        task.deleting = false;
        throw err;
      }
      deletedByShim = false;
      exit = task.exit ?? { pid: task.pid, exitStatus: 255, exitedAt: Date.now() };
    }
    this.#remove(task);
    await this.#teardown(ctx, shim, false);
    // As containerd: the shim binary's `delete` (one more process, and runc) only
    // when the shim could not delete the task itself; a clean Delete left nothing.
    if (deletedByShim) shim.release();
    void this.#background(k, task.bundle, deletedByShim ? undefined : shim);
    return exit;
  }

  /**
   * Removes the task whatever state it is in (a forced sandbox shutdown):
   * kills every process, waits for the init to exit, deletes it. A task whose
   * task API cannot be reached is dropped here (its sandbox is being shut
   * down, which removes the container), with /tasks/exit and /tasks/delete.
   */
  async remove(ctx: Ctx, id: string, waitMs = 10_000): Promise<void> {
    const task = this.get(ctx, id);
    if (task.shim && !task.deleting) {
      // A task API that cannot be reached will not report an exit either: no wait then.
      const reached = await task.kill(ctx, 9, true).then(
        () => true,
        (err: unknown) => !isUnavailable(err),
      );
      const bounded = withTimeout(ctx, waitMs);
      try {
        if (reached) await task.wait(bounded.ctx);
      } catch {
        // Unreachable or stuck: delete below says which.
      } finally {
        bounded.done();
      }
    }
    try {
      await this.delete(ctx, id);
    } catch (err) {
      if (!isUnavailable(err) && !isFailedPrecondition(err)) throw err;
      ctx.log.warn({ error: err, id }, "task API unreachable: dropping the task");
      const shim = task.shim;
      task.deleting = true;
      task.shim = undefined;
      this.#remove(task);
      const exit = task.exit ?? { pid: task.pid, exitStatus: 255, exitedAt: Date.now() };
      if (!this.#exitSeen(task.namespace, task.id)) this.#publishExit(ctx, task.id, exit);
      publishEvent(this.#o.publisher, ctx, Topic.TaskDelete, TaskDeleteSchema, {
        containerId: task.id,
        pid: exit.pid,
        exitStatus: exit.exitStatus,
        exitedAt: timestampFromMs(exit.exitedAt),
      });
      if (shim) await this.#teardown(ctx, shim, false);
      await this.#background(key(task.namespace, task.id), task.bundle, shim);
    }
  }

  /**
   * Whether a forwarded envelope should reach subscribers: drops an exit that
   * was already published (a shim retrying after the daemon published it on
   * recovery).
   */
  acceptForward(envelope: Envelope): boolean {
    if (envelope.topic !== Topic.TaskExit) return true;
    const { id, event } = taskEventKey(envelope);
    if (!id || !event) return true;
    const seen = this.#exits.get(key(envelope.namespace, id));
    return !seen?.has(event);
  }

  /** Keeps task status current from the events shims send (for listings and metrics). */
  observe(envelope: Envelope): void {
    const { id, event } = taskEventKey(envelope);
    if (!id) return;
    const task = this.#tasks.get(key(envelope.namespace, id));
    if (!task) return;
    const status = taskStatusFromEvent(envelope, id);
    if (status !== undefined) task.status = status;
    if (envelope.topic === Topic.TaskExit && event) {
      let seen = this.#exits.get(key(task.namespace, task.id));
      if (!seen) this.#exits.set(key(task.namespace, task.id), (seen = new Set()));
      seen.add(event);
    }
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

  /** Waits for background cleanups (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.#cleanups.size > 0) await Promise.all(this.#cleanups.values());
  }

  /** Closes every connection without touching the shims (daemon shutdown). */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(
      [...this.#tasks.values()].map(async (t) => {
        t.shim?.release();
        await t.shim?.connection.close();
      }),
    );
    await Promise.race([this.settle(), new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  async #loadOne(ctx: Ctx, bundle: Bundle): Promise<"live" | "dead" | "removed"> {
    const exitText = await bundle.read(BundleFile.Exit);
    if (exitText !== undefined) {
      const exit = JSON.parse(exitText) as ExitInfo;
      this.#add(this.#tombstone(bundle, exit));
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
      const exit = await this.#cleanupDead(ctx, bundle);
      this.#add(this.#tombstone(bundle, exit));
      return "dead";
    }
    let state;
    try {
      state = await shim.connection.api.state({ id: bundle.id }, { timeoutMs: 5000 });
    } catch (err) {
      if (shim.kind === "sandbox" && isUnavailable(err)) {
        // The sandboxer is down: the task is not dead. It is read again on reconnect.
        ctx.log.warn({ error: err }, "sandbox task API unreachable, task kept");
        this.#add(
          new Task({
            namespace: bundle.namespace,
            id: bundle.id,
            bundle,
            runtime: "",
            shim,
            pid: 0,
            status: Status.UNKNOWN,
          }),
        );
        return "live";
      }
      if (!isNotFound(err)) throw err;
      // The shim never got the task (crash during Create): undo the shim and the bundle.
      await this.#teardown(ctx, shim, true);
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
    this.#add(task);
    if (state.status === Status.STOPPED) {
      // The exit may have happened while the daemon was down: publish it (again).
      this.#publishExit(ctx, bundle.id, {
        pid: state.pid,
        exitStatus: state.exitStatus,
        exitedAt: state.exitedAt ? timestampMs(state.exitedAt) : Date.now(),
      });
    }
    return "live";
  }

  #add(task: Task): void {
    this.#tasks.set(key(task.namespace, task.id), task);
    const shim = task.shim;
    shim?.connection.onClose(() => {
      if (this.#closing || task.deleting || task.shim !== shim) return;
      void this.#shimDied(task, shim);
    });
    shim?.onReconnect?.(() => {
      if (this.#closing || task.deleting || task.shim !== shim) return;
      void this.#resync(task, shim);
    });
  }

  /**
   * The sandbox's task API came back (the sandboxer restarted): read the task
   * again, publish an exit that happened meanwhile (unless it was already
   * published), and bury a task the sandboxer no longer knows.
   */
  async #resync(task: Task, shim: Shim): Promise<void> {
    const ctx = withLogFields(withNamespace(this.#o.root, task.namespace), { id: task.id });
    let state;
    try {
      state = await shim.connection.api.state({ id: task.id }, { timeoutMs: 5000 });
    } catch (err) {
      if (!isNotFound(err)) {
        ctx.log.warn({ error: err }, "reading the task after reconnecting failed");
        return;
      }
      if (task.shim !== shim || task.deleting) return;
      ctx.log.warn("the sandbox no longer knows the task: it is gone");
      task.shim = undefined;
      task.status = Status.STOPPED;
      task.exit = await this.#cleanupDead(ctx, task.bundle);
      await shim.connection.close();
      return;
    }
    task.pid = state.pid || task.pid;
    task.status = state.status;
    if (state.status === Status.STOPPED && !this.#exitSeen(task.namespace, task.id)) {
      this.#publishExit(ctx, task.id, {
        pid: state.pid,
        exitStatus: state.exitStatus,
        exitedAt: state.exitedAt ? timestampMs(state.exitedAt) : Date.now(),
      });
    }
  }

  /** Whether an exit of the task's init process has been published. */
  #exitSeen(namespace: string, id: string): boolean {
    const seen = this.#exits.get(key(namespace, id));
    if (!seen) return false;
    for (const e of seen) if (e.startsWith(`${id}/`)) return true;
    return false;
  }

  #remove(task: Task): void {
    const k = key(task.namespace, task.id);
    if (this.#tasks.get(k) === task) this.#tasks.delete(k);
    this.#exits.delete(k);
  }

  #tombstone(bundle: Bundle, exit: ExitInfo): Task {
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

  /** The shim's connection closed on its own: the shim (and its task) died. */
  async #shimDied(task: Task, shim: Shim): Promise<void> {
    const ctx = withLogFields(withNamespace(this.#o.root, task.namespace), { id: task.id });
    ctx.log.warn("shim disconnected, cleaning up");
    shim.release();
    task.shim = undefined;
    task.status = Status.STOPPED;
    const { ctx: c, done } = detached(ctx, cleanupTimeoutMs);
    try {
      task.exit = await this.#cleanupDead(c, task.bundle);
    } finally {
      done();
    }
  }

  /** Runs the shim binary's `delete`, records and publishes the exit; 255 if unknown. */
  async #cleanupDead(ctx: Ctx, bundle: Bundle): Promise<ExitInfo> {
    const exit = (await this.#o.shims.cleanupDead(ctx, bundle).catch(() => undefined)) ?? {
      pid: 0,
      exitStatus: 255,
      exitedAt: Date.now(),
    };
    await bundle.write(BundleFile.Exit, JSON.stringify(exit));
    this.#publishExit(ctx, bundle.id, exit);
    publishEvent(this.#o.publisher, ctx, Topic.TaskDelete, TaskDeleteSchema, {
      containerId: bundle.id,
      pid: exit.pid,
      exitStatus: exit.exitStatus,
      exitedAt: timestampFromMs(exit.exitedAt),
    });
    return exit;
  }

  #publishExit(ctx: Ctx, id: string, exit: ExitInfo): void {
    publishEvent(this.#o.publisher, ctx, Topic.TaskExit, TaskExitSchema, {
      containerId: id,
      id,
      pid: exit.pid,
      exitStatus: exit.exitStatus,
      exitedAt: timestampFromMs(exit.exitedAt),
    });
  }

  /** Shutdown (binary shims only: a sandbox decides itself), then close the connection. */
  async #teardown(ctx: Ctx, shim: Shim, cleanup: boolean): Promise<void> {
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

  /** The shim binary's `delete`, then the bundle's removal, off the request path. */
  #background(k: string, bundle: Bundle, shim: Shim | undefined): Promise<void> {
    const previous = this.#cleanups.get(k) ?? Promise.resolve();
    const ctx = withLogFields(withNamespace(this.#o.root, bundle.namespace), { id: bundle.id });
    const work = previous.then(async () => {
      const { ctx: c, done } = detached(ctx, cleanupTimeoutMs);
      try {
        shim?.release();
        await shim?.cleanup(c);
        await deleteBundle(bundle);
      } catch (err) {
        ctx.log.warn({ error: err }, "task cleanup failed");
      } finally {
        done();
        if (this.#cleanups.get(k) === work) this.#cleanups.delete(k);
      }
    });
    this.#cleanups.set(k, work);
    return work;
  }
}

function key(namespace: string, id: string): string {
  return `${namespace}/${id}`;
}
