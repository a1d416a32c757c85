/**
 * PID namespace mode TARGET (kubelet's ephemeral debug containers): the new
 * container joins the PID namespace of `target_id`, a running container of
 * the same pod. The sandboxer keeps a pid namespace path that names one of
 * the pod's own containers.
 */
import { NamespaceMode, type ContainerConfig } from "@sandboxd/api/cri/runtime/v1/api_pb";
import type { Ctx } from "@sandboxd/core";
import { failedPrecondition, invalidArgument, isNotFound } from "@sandboxd/errdefs";
import type { Records } from "./records.js";

/** The host pid of the target container's process, or undefined when the mode is not TARGET. */
export async function targetPid(
  records: Records,
  ctx: Ctx,
  podId: string,
  config: ContainerConfig,
): Promise<number | undefined> {
  const ns = config.linux?.securityContext?.namespaceOptions;
  if (ns?.pid !== NamespaceMode.TARGET) return undefined;
  if (!ns.targetId) throw invalidArgument("pid namespace mode TARGET needs target_id");
  const target = await records.get(ctx, ns.targetId).catch((err: unknown) => {
    if (isNotFound(err))
      throw invalidArgument(
        `pid namespace target ${JSON.stringify(ns.targetId)}: no such container`,
      );
    throw err;
  });
  if (target.state.sandboxId !== podId)
    throw invalidArgument(`pid namespace target ${target.id} is in another pod`);
  if (!target.state.pid || target.state.finishedAt)
    throw failedPrecondition(`pid namespace target ${target.id} is not running`);
  return target.state.pid;
}
