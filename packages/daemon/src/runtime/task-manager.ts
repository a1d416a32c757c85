/**
 * The daemon's tasks (containerd's runtime v2 TaskManager plus its shim list):
 * creating a task (bundle → shim → Create, Connect only for a pid Create did not
 * give; undone step by step on failure), deleting one (Delete, then a shim binary's
 * Shutdown and close; a sandbox's task connection is closed in the background, with the
 * shim binary's `delete` and the bundle's removal), noticing shims that die, and
 * rebuilding everything from the bundles after a restart.
 *
 * Tasks live in memory; what survives a crash is on disk: the bundles (with
 * `bootstrap.json` to reconnect) and, for a task whose shim died, `exit.json`.
 */
import {
  alreadyExists,
  isFailedPrecondition,
  isNotFound,
  isUnavailable,
  notFound,
  withMessage,
  Kind,
} from "@sandboxd/errdefs";
import {
  CgroupMigrationWarmer,
  detached,
  NamespacedMap,
  Rollback,
  namespaceRequired,
  notFoundText,
  withLogFields,
  withNamespace,
  withTimeout,
  type Ctx,
} from "@sandboxd/core";
import { Topic } from "@sandboxd/api";
import type { Envelope } from "@sandboxd/api/types/event_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";
import type { Container } from "../metadata/types.js";
import { createBundle, deleteBundle, type Bundle } from "./bundle.js";
import type { ExitInfo, Shim } from "./shim.js";
import { callOptions, Task, type CreateTaskOptions } from "./task.js";
import { taskEventKey, taskStatusFromEvent } from "./task-events.js";
import {
  TaskRecovery,
  publishDelete,
  publishExit,
  teardownShim,
  unknownExit,
  type TaskManagerOptions,
} from "./task-recovery.js";

const cleanupTimeoutMs = 10_000;

export class TaskManager {
  readonly #o: TaskManagerOptions;
  readonly #tasks = new NamespacedMap<Task>();
  readonly #creating = new NamespacedMap<true>();
  /** Background cleanups (binary delete + bundle removal) per task. */
  readonly #cleanups = new NamespacedMap<Promise<void>>();
  /** Exits already published per task, so a shim's late retry is not published twice. */
  readonly #exits = new NamespacedMap<Set<string>>();
  readonly #recovery: TaskRecovery;
  #closing = false;
  /**
   * Held while a task or an exec process is created: runc's cgroup.procs writes, in
   * whichever shim or sandboxer runs it, then skip the kernel's grace-period wait (see
   * core's CgroupMigrationWarmer). From the start of a create, so that the first write's
   * wait passes while the bundle is made and the shim and runc start up.
   */
  readonly migrations = new CgroupMigrationWarmer();

  constructor(options: TaskManagerOptions) {
    this.#o = options;
    this.#recovery = new TaskRecovery(options, {
      add: (task) => this.#add(task),
      exitSeen: (namespace, id) => this.#exitSeen(namespace, id),
      remove: (task) => this.#remove(task),
      current: (task) =>
        !this.#closing && !task.deleting && this.#tasks.get(task.namespace, task.id) === task,
    });
  }

  get(ctx: Ctx, id: string): Task {
    const task = this.#tasks.get(namespaceRequired(ctx), id);
    if (!task) throw notFound(notFoundText("task", id));
    return task;
  }

  has(ctx: Ctx, id: string): boolean {
    return this.#tasks.has(namespaceRequired(ctx), id);
  }

  /** Tasks in the context's namespace. */
  list(ctx: Ctx): Task[] {
    return this.#tasks.list(namespaceRequired(ctx));
  }

  /** Every task, for metrics. */
  all(): Task[] {
    return [...this.#tasks.values()];
  }

  async create(ctx: Ctx, container: Container, options: CreateTaskOptions): Promise<Task> {
    return this.migrations.during(() => this.#create(ctx, container, options));
  }

  async #create(ctx: Ctx, container: Container, options: CreateTaskOptions): Promise<Task> {
    const ns = namespaceRequired(ctx);
    const id = container.id;
    if (this.#tasks.has(ns, id) || this.#creating.has(ns, id)) throw alreadyExists(`task ${id}`);
    const runtime = options.runtimePath || container.runtime.name;
    const shimOptions = options.options ?? container.runtime.options;
    this.#creating.set(ns, id, true);
    const rollback = new Rollback();
    try {
      // What the records refuse (no such sandbox, an uninstalled runtime) is refused before
      // anything is made; while a sandbox's controller is asked whether it is ready (a round
      // trip to the sandboxer), the bundle is made, and removed if the answer is no.
      const routing = this.#o.shims.route(ctx, { container, runtime, options: shimOptions });
      await Promise.race([routing, nextTurn()]);
      await this.#cleanups.get(ns, id);
      const bundle = await createBundle(this.#o.dirs, ns, container.id, container.spec?.value);
      rollback.push("remove bundle", () => deleteBundle(bundle));
      const route = await routing;
      const shim = await this.#o.shims.start(
        ctx,
        { bundle, container, runtime, options: shimOptions },
        route,
      );
      rollback.push("stop shim", (c) => teardownShim(c, shim, true));
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
      const [creating, recorded] = await Promise.allSettled([
        api.create(
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
        ),
        shim.recorded,
      ]);
      if (creating.status === "rejected") throw creating.reason;
      const created = creating.value;
      if (shim.kind !== "sandbox") {
        rollback.push("delete shim task", (c) => api.delete({ id: container.id }, callOptions(c)));
      }
      if (recorded.status === "rejected") throw recorded.reason;
      // Create answers with the task's pid (the task API's CreateTaskResponse.pid): kept, with
      // no Connect; only a task API whose Create gave none is asked.
      const pid =
        created.pid > 0
          ? created.pid
          : (await api.connect({ id: container.id }, callOptions(ctx))).taskPid || created.pid;
      const task = new Task({
        namespace: ns,
        id: container.id,
        bundle,
        runtime,
        shim,
        pid,
        status: Status.CREATED,
      });
      this.#add(task);
      rollback.clear();
      return task;
    } catch (err) {
      await rollback.run(ctx);
      throw err;
    } finally {
      this.#creating.delete(ns, id);
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
    if (task.deleting) throw withMessage(Kind.FailedPrecondition, `task ${id}: delete in progress`);
    const shim = task.shim;
    if (!shim) {
      this.#remove(task);
      await this.#background(task.bundle, undefined);
      return task.exit ?? unknownExit(task.pid);
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
      exit = task.exit ?? unknownExit(task.pid);
    }
    this.#remove(task);
    // A sandbox's task connection is only closed: that goes with the background cleanup
    // (closing lets calls in flight drain first). A shim binary is told to shut down now.
    const closing = shim.kind === "sandbox" ? shim : undefined;
    if (!closing) await teardownShim(ctx, shim, false);
    // As containerd: the shim binary's `delete` (one more process, and runc) only
    // when the shim could not delete the task itself; a clean Delete left nothing.
    if (deletedByShim) shim.release();
    void this.#background(task.bundle, deletedByShim ? undefined : shim, closing);
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
      const exit = task.exit ?? unknownExit(task.pid);
      if (!this.#exitSeen(task.namespace, task.id))
        publishExit(this.#o.publisher, ctx, task.id, exit);
      publishDelete(this.#o.publisher, ctx, task.id, exit);
      if (shim) await teardownShim(ctx, shim, false);
      await this.#background(task.bundle, shim);
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
    const seen = this.#exits.get(envelope.namespace, id);
    return !seen?.has(event);
  }

  /** Keeps task status current from the events shims send (for listings and metrics). */
  observe(envelope: Envelope): void {
    const { id, event } = taskEventKey(envelope);
    if (!id) return;
    const task = this.#tasks.get(envelope.namespace, id);
    if (!task) return;
    const status = taskStatusFromEvent(envelope, id);
    if (status !== undefined) task.status = status;
    if (envelope.topic === Topic.TaskExit && event) {
      let seen = this.#exits.get(task.namespace, task.id);
      if (!seen) this.#exits.set(task.namespace, task.id, (seen = new Set()));
      seen.add(event);
    }
  }

  /**
   * Rebuilds the task list from the bundles after a start (task-recovery.ts):
   * live shims reconnected, dead ones buried, unfinished creates removed.
   */
  load(ctx: Ctx): Promise<{ live: number; dead: number; removed: number }> {
    return this.#recovery.load(ctx);
  }

  /** Waits for background cleanups (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.#cleanups.size > 0) await Promise.all(this.#cleanups.values());
  }

  /** Closes every connection without touching the shims (daemon shutdown). */
  async close(): Promise<void> {
    this.#closing = true;
    this.#recovery.close();
    await this.migrations.close();
    await Promise.all(
      [...this.#tasks.values()].map(async (t) => {
        t.shim?.release();
        await t.shim?.connection.close();
      }),
    );
    await Promise.race([this.settle(), new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  #add(task: Task): void {
    this.#tasks.set(task.namespace, task.id, task);
    const shim = task.shim;
    shim?.connection.onClose(() => {
      if (this.#closing || task.deleting || task.shim !== shim) return;
      void this.#shimDied(task, shim);
    });
    shim?.onReconnect?.(() => {
      if (this.#closing || task.deleting || task.shim !== shim) return;
      void this.#recovery.resync(task, shim);
    });
  }

  /** Whether an exit of the task's init process has been published. */
  #exitSeen(namespace: string, id: string): boolean {
    const seen = this.#exits.get(namespace, id);
    if (!seen) return false;
    for (const e of seen) if (e.startsWith(`${id}/`)) return true;
    return false;
  }

  #remove(task: Task): void {
    if (this.#tasks.get(task.namespace, task.id) === task)
      this.#tasks.delete(task.namespace, task.id);
    this.#exits.delete(task.namespace, task.id);
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
      task.exit = await this.#recovery.cleanupDead(c, task.bundle);
    } finally {
      done();
    }
  }

  /**
   * Off the request path: `closing`'s connection closed, the shim binary's `delete`, then
   * the bundle's removal.
   */
  #background(bundle: Bundle, shim: Shim | undefined, closing?: Shim): Promise<void> {
    const { namespace, id } = bundle;
    const previous = this.#cleanups.get(namespace, id) ?? Promise.resolve();
    const ctx = withLogFields(withNamespace(this.#o.root, bundle.namespace), { id: bundle.id });
    const work = previous.then(async () => {
      const { ctx: c, done } = detached(ctx, cleanupTimeoutMs);
      try {
        if (closing) {
          await teardownShim(c, closing, false).catch((err: unknown) => {
            ctx.log.warn({ error: err }, "closing the task connection failed");
          });
        }
        shim?.release();
        await shim?.cleanup(c);
        await deleteBundle(bundle);
      } catch (err) {
        ctx.log.warn({ error: err }, "task cleanup failed");
      } finally {
        done();
        if (this.#cleanups.get(namespace, id) === work) this.#cleanups.delete(namespace, id);
      }
    });
    this.#cleanups.set(namespace, id, work);
    return work;
  }
}

/** Resolves on the event loop's next turn: after every promise already settled has run. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
