/**
 * Task operations (the runtime v2 Task API) on the sandboxer's containers.
 * Create finds the task's sandbox: the `<bundle>/sandbox` file (containerd 2.x,
 * sandboxd), else the CRI sandbox-id annotation, else an implicit one-container
 * sandbox named after the task (`ctr run` under containerd 1.6), which goes away
 * with the task.
 */
import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import type { Ctx } from "@sandboxd/core";
import { detached, notFoundText, validateIdentifier } from "@sandboxd/core";
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from "@sandboxd/errdefs";
import { Container } from "./container/container.js";
import type { ExitResult } from "./container/container.js";
import { ExecProcess } from "./container/exec.js";
import type { MountSpec } from "./container/mounts.js";
import { parseSpec, sandboxIdFromAnnotations } from "./container/spec.js";
import type { Pod } from "./pod/pod.js";
import type { LinuxResources } from "./pod/resources.js";
import type { Sandboxer } from "./sandboxer.js";
import { RecentExits } from "./state/recent-exits.js";
import type { Stdio } from "./state/records.js";
import { NamespacedMap, abortable, withRollback } from "@sandboxd/core";

export interface TaskCreate {
  id: string;
  bundle: string;
  rootfs: MountSpec[];
  stdio: Stdio;
}

export class Tasks {
  readonly sb: Sandboxer;
  readonly recent = new RecentExits();
  /** Creates in flight, so that State and Delete of the same task wait for their outcome. */
  readonly #creating = new NamespacedMap<Promise<Container>>();

  constructor(sb: Sandboxer) {
    this.sb = sb;
  }

  container(namespace: string, id: string): Container {
    const c = this.sb.containers.get(namespace, id);
    if (!c || c.deleted) throw notFound(notFoundText("task", id));
    return c;
  }

  exec(namespace: string, id: string, execId: string): ExecProcess {
    const exec = this.container(namespace, id).execs.get(execId);
    if (!exec) throw notFound(`exec ${JSON.stringify(execId)} of task ${JSON.stringify(id)}`);
    return exec;
  }

  /**
   * Resolves once no create of this task is in flight. A caller that lost its connection
   * during Create (sandboxd killed) asks State when it comes back; answering NotFound while the
   * create is still running would let it forget a task that then appears.
   */
  async settled(namespace: string, id: string): Promise<void> {
    await this.#creating.get(namespace, id)?.catch(() => undefined);
  }

  create(ctx: Ctx, namespace: string, t: TaskCreate): Promise<Container> {
    if (this.#creating.has(namespace, t.id))
      return Promise.reject(alreadyExists(`task ${JSON.stringify(t.id)}`));
    // A create, once begun, finishes whoever is still listening: cut short while runc create
    // runs under conmon, it could not be undone (conmon's pid not known yet, runc's state not
    // written), and left a container nobody owns. A caller that hung up finds it by State.
    const { ctx: whole, done } = detached(ctx, 120_000);
    const creating = this.sb.env.networks.busy(() => this.#create(whole, namespace, t));
    this.#creating.set(namespace, t.id, creating);
    const forget = () => {
      done();
      this.#creating.delete(namespace, t.id);
    };
    creating.then(forget, forget);
    return creating;
  }

  async #create(ctx: Ctx, namespace: string, t: TaskCreate): Promise<Container> {
    validateIdentifier(t.id);
    if (!isAbsolute(t.bundle))
      throw invalidArgument(`bundle ${JSON.stringify(t.bundle)}: must be an absolute path`);
    if (this.sb.containers.has(namespace, t.id))
      throw alreadyExists(`task ${JSON.stringify(t.id)}`);
    const configText = await readFile(join(t.bundle, "config.json"), "utf8").catch(
      (err: NodeJS.ErrnoException) => {
        throw err.code === "ENOENT"
          ? notFound(`bundle ${JSON.stringify(t.bundle)}: config.json`)
          : invalidArgument(`bundle ${JSON.stringify(t.bundle)}: ${err.message}`);
      },
    );
    const spec = parseSpec(configText, `${t.bundle}/config.json`);
    if (!spec.process?.args?.length)
      throw invalidArgument(`task ${JSON.stringify(t.id)}: config.json has no process.args`);
    if (t.stdio.terminal !== Boolean(spec.process.terminal)) {
      throw invalidArgument(
        `task ${JSON.stringify(t.id)}: terminal=${t.stdio.terminal} but config.json process.terminal=${Boolean(spec.process.terminal)}`,
      );
    }
    if (t.rootfs.length === 0 && !spec.root?.path)
      throw invalidArgument(`task ${JSON.stringify(t.id)}: no rootfs mounts and no root.path`);
    if (t.rootfs.length === 0 && spec.root?.path) {
      const root = isAbsolute(spec.root.path) ? spec.root.path : join(t.bundle, spec.root.path);
      await stat(root).catch(() => {
        throw notFound(`task ${JSON.stringify(t.id)}: rootfs ${JSON.stringify(root)}`);
      });
    }

    const fromFile = (await readFile(join(t.bundle, "sandbox"), "utf8").catch(() => "")).trim();
    const sandboxId = fromFile || sandboxIdFromAnnotations(spec) || t.id;
    return withRollback(ctx, async (undo) => {
      let pod = this.sb.pods.get(namespace, sandboxId);
      if (!pod) {
        if (fromFile)
          throw notFound(notFoundText("sandbox", sandboxId, ` of task ${JSON.stringify(t.id)}`));
        const specNet = spec.linux?.namespaces?.find((n) => n.type === "network");
        pod = await this.sb.createSandbox(ctx, namespace, {
          id: sandboxId,
          implicit: true,
          hostname: spec.hostname,
          netnsPath: specNet?.path,
          hostNetwork: specNet === undefined,
          annotations: spec.annotations,
        });
        undo.push("remove implicit sandbox", (c) =>
          this.sb.shutdownSandbox(c, namespace, sandboxId),
        );
        await this.sb.startSandbox(ctx, namespace, sandboxId);
      } else if (!fromFile && sandboxId === t.id && !pod.rec.implicit) {
        throw alreadyExists(
          `sandbox ${JSON.stringify(t.id)}: a task without a sandbox cannot take its name`,
        );
      }
      const target = pod;
      return this.sb.withSandbox(namespace, target.rec.id, async () => {
        if (target.rec.state !== "ready") {
          throw failedPrecondition(`sandbox ${JSON.stringify(target.rec.id)} is not ready`);
        }
        if (this.sb.containers.has(namespace, t.id))
          throw alreadyExists(`task ${JSON.stringify(t.id)}`);
        const memberPids = this.sb
          .containersOf(target)
          .map((c) => c.rec.pid)
          .filter((pid) => pid > 0);
        const c = await Container.create(
          ctx,
          this.sb.env,
          target,
          { namespace, ...t, spec, memberPids, configText },
          (extra) => this.sb.resizePod(target, extra),
        );
        this.sb.containers.set(namespace, t.id, c);
        return c;
      });
    });
  }

  async start(ctx: Ctx, namespace: string, id: string, execId: string): Promise<number> {
    // `runc start` killed half-way (the caller hung up) can leave the process running with
    // its record saying created: a start, once begun, finishes whoever is still listening.
    const { ctx: whole, done } = detached(ctx, 30_000);
    try {
      if (execId) return await this.exec(namespace, id, execId).start(whole);
      const c = this.container(namespace, id);
      if (c.pod.frozen) {
        throw failedPrecondition(`sandbox ${JSON.stringify(c.pod.rec.id)} is paused`);
      }
      return await this.sb.env.networks.busy(() => c.start(whole));
    } finally {
      done();
    }
  }

  async delete(ctx: Ctx, namespace: string, id: string, execId: string): Promise<ExitResult> {
    if (execId) return this.exec(namespace, id, execId).delete();
    const c = this.container(namespace, id);
    const pod = c.pod;
    return this.sb.withSandbox(namespace, pod.rec.id, async () => {
      const result = await c.delete(ctx);
      this.sb.containers.delete(namespace, id);
      this.recent.add(namespace, id, result);
      if (pod.rec.implicit && this.sb.containersOf(pod).length === 0) {
        await this.#removeImplicit(ctx, pod);
      } else {
        await this.sb.resizePod(pod);
      }
      return result;
    });
  }

  /**
   * Removes the containers whose bundle is gone while they still run in an explicit pod.
   * Stock containerd 2.0–2.3 drop the task connection when the sandboxer dies: the
   * in-flight Wait fails, CRI records an exit and deletes the task and its bundle, and
   * never asks again. Such a container is an orphan (kubelet starts a new one in the
   * same pod), so it is killed and removed, with its exit and delete events.
   */
  async reapForgotten(ctx: Ctx): Promise<string[]> {
    const reaped: string[] = [];
    for (const c of [...this.sb.containers.values()]) {
      if (c.deleted || c.pod.rec.implicit || this.#creating.has(c.namespace, c.id)) continue;
      if (existsSync(join(c.rec.bundle, "config.json"))) continue;
      ctx.log.warn(
        { namespace: c.namespace, id: c.id, bundle: c.rec.bundle },
        "the task's bundle is gone (its client forgot it): removing the container",
      );
      await this.sb.withSandbox(c.namespace, c.pod.rec.id, async () => {
        if (c.deleted) return;
        if (c.rec.status === "running") {
          await c.kill(ctx, 9, true).catch(() => undefined);
          await Promise.race([c.init.exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
          await c.init.checkMonitor();
        }
        const result = await c.delete(ctx);
        this.sb.containers.delete(c.namespace, c.id);
        this.recent.add(c.namespace, c.id, result);
        await this.sb.resizePod(c.pod);
      });
      reaped.push(c.id);
    }
    return reaped;
  }

  async #removeImplicit(ctx: Ctx, pod: Pod): Promise<void> {
    // Called under the sandbox lock: release directly rather than through shutdownSandbox.
    await pod.stop(ctx);
    await pod.release(ctx);
    this.sb.pods.delete(pod.rec.namespace, pod.rec.id);
  }

  async kill(
    ctx: Ctx,
    namespace: string,
    id: string,
    execId: string,
    signal: number,
    all: boolean,
  ): Promise<void> {
    if (execId) {
      this.exec(namespace, id, execId).kill(signal);
      return;
    }
    await this.container(namespace, id).kill(ctx, signal, all);
  }

  async addExec(
    ctx: Ctx,
    namespace: string,
    id: string,
    execId: string,
    spec: Record<string, unknown>,
    stdio: Stdio,
  ): Promise<void> {
    validateIdentifier(execId);
    await ExecProcess.add(ctx, this.container(namespace, id), {
      id: execId,
      processSpec: spec,
      stdio,
    });
  }

  async wait(
    ctx: Ctx,
    namespace: string,
    id: string,
    execId: string,
  ): Promise<{ exitStatus: number; exitedAt: number }> {
    const proc = execId
      ? this.exec(namespace, id, execId).proc
      : this.container(namespace, id).init;
    const exit = await abortable(proc.exited, ctx.signal);
    return { exitStatus: exit.status, exitedAt: exit.at };
  }

  async update(
    ctx: Ctx,
    namespace: string,
    id: string,
    resources: LinuxResources & Record<string, unknown>,
  ): Promise<void> {
    const c = this.container(namespace, id);
    await this.sb.withSandbox(namespace, c.pod.rec.id, async () => {
      const before = c.rec.resources;
      // Raise the pod first (cgroup v1 refuses a child quota above its parent's), then settle.
      c.rec.resources = widest(before, resources);
      await this.sb.resizePod(c.pod);
      try {
        await c.runc.update(ctx, id, resources);
        c.rec.resources = { ...before, ...pick(resources) };
        await c.save();
      } catch (err) {
        c.rec.resources = before;
        throw err;
      } finally {
        await this.sb.resizePod(c.pod);
      }
    });
  }
}

function pick(r: LinuxResources): LinuxResources {
  return {
    ...(r.cpu ? { cpu: r.cpu } : {}),
    ...(r.memory ? { memory: r.memory } : {}),
    ...(r.pids ? { pids: r.pids } : {}),
  };
}

/** Per field, the larger of two resource sets (for an ordering-safe resize). */
function widest(a: LinuxResources | undefined, b: LinuxResources): LinuxResources {
  const max = (x?: number, y?: number): number | undefined =>
    x === undefined || y === undefined || x <= 0 || y <= 0 ? undefined : Math.max(x, y);
  return {
    cpu: { quota: max(a?.cpu?.quota, b.cpu?.quota ?? a?.cpu?.quota), period: 100000 },
    memory: { limit: max(a?.memory?.limit, b.memory?.limit ?? a?.memory?.limit) },
    pids: { limit: max(a?.pids?.limit, b.pids?.limit ?? a?.pids?.limit) },
  };
}
