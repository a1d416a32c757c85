/**
 * The runtime v2 Task service for every container of the node, registered as
 * both `containerd.task.v3.Task` and `containerd.task.v2.Task` (the two protos
 * differ only in their package). The namespace comes from the ttrpc header
 * containerd sends; without it, a task is found by id alone if that is unique.
 */
import { create } from "@bufbuild/protobuf";
import { ts } from "../util/time.js";
import { JsonTypeUrl, ServiceName, pack, unpackJson } from "@sandboxd/api/names";
import { Task } from "@sandboxd/api/runtime/task/v3/shim_pb";
import type { StateResponse } from "@sandboxd/api/runtime/task/v3/shim_pb";
import { StateResponseSchema } from "@sandboxd/api/runtime/task/v3/shim_pb";
import { ProcessDetailsSchema } from "@sandboxd/api/types/runc/options/oci_pb";
import { Status } from "@sandboxd/api/types/task/task_pb";
import type { Ctx } from "@sandboxd/core";
import { invalidArgument, notImplemented } from "@sandboxd/errdefs";
import type { HandlerContext, Server, ServiceImpl } from "@sandboxd/ttrpc";
import { resizeTerminal } from "../container/terminal.js";
import { readMetrics } from "../pod/cgroup-stats.js";
import type { LinuxResources } from "../pod/resources.js";
import type { ProcessStatus } from "../state/records.js";
import type { Tasks } from "../tasks.js";
import { ttrpcCtx } from "./context.js";

const version = "sbx-sandboxer";

export function registerTaskService(server: Server, root: Ctx, tasks: Tasks): void {
  const impl = taskService(root, tasks);
  server.register(Task, impl);
  server.register(Task, impl, { serviceName: ServiceName.TaskV2 });
}

function statusOf(s: ProcessStatus, paused: boolean): Status {
  switch (s) {
    case "creating":
    case "created":
      return Status.CREATED;
    case "running":
      return paused ? Status.PAUSED : Status.RUNNING;
    case "stopped":
      return Status.STOPPED;
  }
}

function taskService(root: Ctx, tasks: Tasks): ServiceImpl<typeof Task> {
  const sb = tasks.sb;
  /** The call's context and namespace (header, else the namespace holding a task of that id). */
  const scope = (call: HandlerContext, id: string, bundle?: string): { ctx: Ctx; ns: string } => {
    const ctx = ttrpcCtx(root, call, { id });
    if (ctx.namespace) return { ctx, ns: ctx.namespace };
    if (bundle) {
      // containerd's bundle path is <state>/<plugin>/<namespace>/<id>.
      const parts = bundle.split("/").filter(Boolean);
      const ns = parts[parts.length - 2];
      if (ns && parts[parts.length - 1] === id) return { ctx, ns };
    }
    const owners = [...sb.containers.values()].filter((c) => c.id === id).map((c) => c.namespace);
    return { ctx, ns: owners.length === 1 && owners[0] ? owners[0] : "default" };
  };

  return {
    async create(req, call) {
      const { ctx, ns } = scope(call, req.id, req.bundle);
      if (req.checkpoint || req.parentCheckpoint) throw notImplemented("checkpoint restore");
      const c = await tasks.create(ctx, ns, {
        id: req.id,
        bundle: req.bundle,
        rootfs: req.rootfs.map((m) => ({
          type: m.type,
          source: m.source,
          target: m.target,
          options: [...m.options],
        })),
        stdio: { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal },
      });
      return { pid: c.rec.pid };
    },
    async start(req, call) {
      const { ctx, ns } = scope(call, req.id);
      return { pid: await tasks.start(ctx, ns, req.id, req.execId) };
    },
    async delete(req, call) {
      const { ctx, ns } = scope(call, req.id);
      await tasks.settled(ns, req.id);
      const r = await tasks.delete(ctx, ns, req.id, req.execId);
      return { pid: r.pid, exitStatus: r.exitStatus, exitedAt: ts(r.exitedAt) };
    },
    async state(req, call): Promise<StateResponse> {
      const { ns } = scope(call, req.id);
      await tasks.settled(ns, req.id);
      const c = tasks.container(ns, req.id);
      const p = req.execId ? tasks.exec(ns, req.id, req.execId).rec : c.rec;
      return create(StateResponseSchema, {
        id: req.execId || req.id,
        bundle: c.rec.bundle,
        pid: p.pid,
        status: statusOf(p.status, !req.execId && (c.paused || c.pod.frozen)),
        stdin: p.stdio.stdin,
        stdout: p.stdio.stdout,
        stderr: p.stdio.stderr,
        terminal: p.stdio.terminal,
        exitStatus: p.exitStatus ?? 0,
        ...(p.exitedAt !== undefined ? { exitedAt: ts(p.exitedAt) } : {}),
        execId: req.execId,
      });
    },
    async pids(req, call) {
      const { ctx, ns } = scope(call, req.id);
      const c = tasks.container(ns, req.id);
      const byPid = new Map([...c.execs.values()].map((e) => [e.rec.pid, e.id]));
      const pids = await c.pids(ctx);
      return {
        processes: pids.map((pid) => {
          const execId = byPid.get(pid);
          return { pid, ...(execId ? { info: pack(ProcessDetailsSchema, { execId }) } : {}) };
        }),
      };
    },
    async pause(req, call) {
      const { ctx, ns } = scope(call, req.id);
      await tasks.container(ns, req.id).pause(ctx);
      return {};
    },
    async resume(req, call) {
      const { ctx, ns } = scope(call, req.id);
      await tasks.container(ns, req.id).resume(ctx);
      return {};
    },
    checkpoint() {
      throw notImplemented("checkpoint");
    },
    async kill(req, call) {
      const { ctx, ns } = scope(call, req.id);
      await tasks.kill(ctx, ns, req.id, req.execId, req.signal, req.all);
      return {};
    },
    async exec(req, call) {
      const { ctx, ns } = scope(call, req.id);
      if (!req.spec) throw invalidArgument(`exec ${JSON.stringify(req.execId)}: no process spec`);
      const spec = unpackJson(req.spec) as Record<string, unknown>;
      if (req.spec.typeUrl !== JsonTypeUrl.Process && !Array.isArray(spec.args)) {
        throw invalidArgument(
          `exec ${JSON.stringify(req.execId)}: spec is ${req.spec.typeUrl}, not an OCI Process`,
        );
      }
      await tasks.addExec(ctx, ns, req.id, req.execId, spec, {
        stdin: req.stdin,
        stdout: req.stdout,
        stderr: req.stderr,
        terminal: req.terminal,
      });
      return {};
    },
    resizePty(req, call) {
      const { ns } = scope(call, req.id);
      const c = tasks.container(ns, req.id);
      const target = req.execId ? tasks.exec(ns, req.id, req.execId) : c;
      // Without a terminal there is nothing to resize (the runc shim answers the same way).
      if (!target.rec.stdio.terminal || target.rec.status !== "running") return {};
      resizeTerminal(target.terminalPaths().ctl, req.height, req.width);
      return {};
    },
    closeIO(req, call) {
      const { ns } = scope(call, req.id);
      const proc = req.execId
        ? tasks.exec(ns, req.id, req.execId).proc
        : tasks.container(ns, req.id).init;
      if (req.stdin) proc.closeStdin();
      return {};
    },
    async update(req, call) {
      const { ctx, ns } = scope(call, req.id);
      if (!req.resources) return {};
      const resources = unpackJson(req.resources) as LinuxResources & Record<string, unknown>;
      await tasks.update(ctx, ns, req.id, resources);
      return {};
    },
    async wait(req, call) {
      const { ctx, ns } = scope(call, req.id);
      const r = await tasks.wait(ctx, ns, req.id, req.execId);
      return { exitStatus: r.exitStatus, exitedAt: ts(r.exitedAt) };
    },
    async stats(req, call) {
      const { ns } = scope(call, req.id);
      const c = tasks.container(ns, req.id);
      return { stats: await readMetrics(sb.env.cgroups, c.rec.cgroupsPath) };
    },
    connect(req, call) {
      const { ns } = scope(call, req.id);
      const c = tasks.container(ns, req.id);
      return { shimPid: process.pid, taskPid: c.rec.pid, version };
    },
    shutdown() {
      // containerd sends Shutdown after every task delete; the sandboxer serves
      // every pod of the node and never exits because of it.
      return {};
    },
  };
}
