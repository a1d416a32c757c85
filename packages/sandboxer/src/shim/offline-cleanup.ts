/**
 * The shim's `delete` when the sandboxer cannot be reached at all: the task is
 * killed and removed straight from the sandboxer's state files (runc with the
 * sandboxer's runc root, the conmon, the rootfs mounts, the cgroup, and an
 * implicit sandbox with its netns, pins and CNI lease), so nothing is orphaned.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Ctx } from "@sandboxd/core";
import { CgroupMigrationWarmer, background } from "@sandboxd/core";
import type { Config } from "../config/config.js";
import { readExitFile } from "../container/exit-watch.js";
import { unmountAll } from "../container/mounts.js";
import { isAlive, isConmon } from "../container/process.js";
import { Runc } from "../container/runc.js";
import type { Env } from "../env.js";
import { Cgroups, detectLayout } from "../pod/cgroups.js";
import { Pod } from "../pod/pod.js";
import { listDirs, readRecord } from "../state/atomic.js";
import { NetworkPool } from "../pod/network-pool.js";
import { Layout } from "../state/layout.js";
import type { ContainerRecord, SandboxRecord } from "../state/records.js";

export async function offlineCleanup(
  config: Config,
  namespace: string,
  id: string,
  bundle: string,
  ctx: Ctx = background(),
): Promise<{ pid: number; exitStatus: number; exitedAt: number }> {
  const layout = new Layout(config.stateDir);
  const env: Env = {
    config,
    layout,
    cgroups: new Cgroups(detectLayout()),
    events: { publish: () => undefined },
    root: ctx,
    networks: new NetworkPool({ config, layout, root: ctx }),
    migrations: new CgroupMigrationWarmer(),
  };
  let exit = { pid: 0, exitStatus: 137, exitedAt: Date.now() };
  const found = await findContainer(layout, namespace, id);
  if (!found) {
    await unmountAll(ctx, join(bundle, "rootfs")).catch(() => undefined);
    return exit;
  }
  const { rec, dir } = found;
  const runc = new Runc(config.binaries.runc, layout.runcRoot(namespace));
  let recorded = await readExitFile(dir);
  if (!recorded) {
    await runc.kill(ctx, id, 9, true).catch(() => undefined);
    if (rec.conmonPid > 0 && (await isConmon(rec.conmonPid)) && isAlive(rec.conmonPid)) {
      // Give conmon a moment to record the exit of the process it watched.
      for (let i = 0; i < 100 && !recorded; i++) {
        await new Promise((r) => setTimeout(r, 20));
        recorded = await readExitFile(dir);
      }
      if (!recorded && isAlive(rec.conmonPid)) process.kill(rec.conmonPid, "SIGKILL");
    }
  }
  exit = recorded
    ? { pid: rec.pid, exitStatus: recorded.status, exitedAt: recorded.at }
    : { pid: rec.pid, exitStatus: 137, exitedAt: Date.now() };
  await runc.delete(ctx, id, true).catch(() => undefined);
  if (rec.mounted) await unmountAll(ctx, join(rec.bundle, "rootfs")).catch(() => undefined);
  if (rec.cgroupsPath) await env.cgroups.remove(rec.cgroupsPath).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });

  const pod = await readRecord<SandboxRecord>(layout.sandboxFile(namespace, rec.sandboxId));
  if (
    pod?.implicit &&
    (await listDirs(join(layout.sandboxDir(namespace, rec.sandboxId), "containers"))).length === 0
  ) {
    const p = new Pod(env, pod);
    await p.stop(ctx);
    await p.release(ctx);
  }
  return exit;
}

async function findContainer(
  layout: Layout,
  namespace: string,
  id: string,
): Promise<{ rec: ContainerRecord; dir: string } | undefined> {
  for (const sandboxId of await listDirs(join(layout.sandboxesDir, namespace))) {
    const dir = layout.containerDir(namespace, sandboxId, id);
    const rec = await readRecord<ContainerRecord>(join(dir, "container.json")).catch(
      () => undefined,
    );
    if (rec) return { rec, dir };
  }
  return undefined;
}
