/**
 * What a stop of sbx-sandboxer takes away. With no pod left, a clean stop
 * leaves nothing of this instance on the host: the namespace pin root's
 * bind mount, the CNI bridge (when no interface is attached to it: another
 * instance may share it), and the cgroup parent (when empty). With pods
 * running, all of it stays: the pods keep running and the next start picks
 * them up.
 */
import { readFile, readdir } from "node:fs/promises";
import { exitText, run, type Ctx } from "@sandboxd/core";
import type { Env } from "./env.js";
import { mountEntry } from "./pod/namespaces.js";
import { helperTimeoutMs } from "./util/time.js";

/** Undoes the per-instance set-up when `pods` is 0; returns what it removed. */
export async function cleanStop(ctx: Ctx, env: Env, pods: number): Promise<string[]> {
  if (pods > 0) {
    ctx.log.info({ pods }, "stopping with pods running: pin root, bridge and cgroup kept");
    return [];
  }
  const removed: string[] = [];
  const failures: string[] = [];
  const pinRoot = env.layout.pinRoot;
  if (mountEntry(await readFile("/proc/self/mountinfo", "utf8"), pinRoot)) {
    const r = await run(ctx, "umount", [pinRoot], { timeoutMs: helperTimeoutMs });
    if (r.code === 0) removed.push(`mount ${pinRoot}`);
    else failures.push(`umount ${pinRoot}: ${exitText(r)}: ${r.stderr.trim()}`);
  }
  const net = env.config.network;
  if (net.enabled) {
    const attached = await readdir(`/sys/class/net/${net.bridge}/brif`).catch(() => undefined);
    if (attached?.length === 0) {
      const r = await run(ctx, "ip", ["link", "delete", net.bridge], {
        timeoutMs: helperTimeoutMs,
      });
      if (r.code === 0) removed.push(`bridge ${net.bridge}`);
      else failures.push(`ip link delete ${net.bridge}: ${exitText(r)}: ${r.stderr.trim()}`);
    }
  }
  await env.cgroups.removeIfEmpty(env.config.cgroupParent);
  if (failures.length) ctx.log.warn({ failures }, "clean stop left something behind");
  else ctx.log.info({ removed }, "clean stop: nothing left");
  return removed;
}
