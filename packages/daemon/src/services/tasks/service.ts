/** gRPC adapter for containerd.services.tasks.v1.Tasks: convert → local. */
import type { ServiceImpl } from "@sandboxd/grpc";
import { Tasks } from "@sandboxd/api/services/tasks/v1/tasks_pb";
import type { CtxOf } from "../../server/rpc.js";
import type { TasksLocal } from "./local.js";

export function tasksService(local: TasksLocal, ctxOf: CtxOf): ServiceImpl<typeof Tasks> {
  return {
    create: (req, call) => local.create(ctxOf(call), req),
    start: (req, call) => local.start(ctxOf(call), req),
    delete: (req, call) => local.delete(ctxOf(call), req),
    deleteProcess: (req, call) => local.deleteProcess(ctxOf(call), req),
    get: (req, call) => local.get(ctxOf(call), req),
    list: (req, call) => local.list(ctxOf(call), req),
    kill: (req, call) => local.kill(ctxOf(call), req),
    exec: (req, call) => local.exec(ctxOf(call), req),
    resizePty: (req, call) => local.resizePty(ctxOf(call), req),
    closeIO: (req, call) => local.closeIO(ctxOf(call), req),
    pause: (req, call) => local.pause(ctxOf(call), req),
    resume: (req, call) => local.resume(ctxOf(call), req),
    listPids: (req, call) => local.listPids(ctxOf(call), req),
    checkpoint: (req, call) => local.checkpoint(ctxOf(call), req),
    update: (req, call) => local.update(ctxOf(call), req),
    metrics: (req, call) => local.metrics(ctxOf(call), req),
    wait: (req, call) => local.wait(ctxOf(call), req),
  };
}

export { Tasks };
