/**
 * The rootfs of a container in a pod with a user namespace, mapped so that the
 * image's files (owned by host ids 0..N on disk) show as 0..N inside, and the
 * container's root can write its own rootfs. overlayfs cannot be idmapped
 * itself but takes idmapped layers: each lowerdir gets an idmapped bind (made by
 * native/userns.c, as runc 1.1 has no idmap option), the overlay is mounted over
 * those, and the binds are dropped (overlayfs holds private clones). The
 * upperdir is new and empty: its root is given to the pod's root, as
 * containerd's overlay snapshotter does for remapped snapshots, so what the
 * container writes lands on disk owned by the mapped host ids. A bind-mounted
 * rootfs (native snapshotter) is idmapped as a whole.
 */
import { chmod, chown, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Ctx } from "@sandboxd/core";
import { exitText, run } from "@sandboxd/core";
import { invalidArgument, unknown as unknownError } from "@sandboxd/errdefs";
import type { PodUserns } from "../pod/pod-config.js";
import { helperTimeoutMs } from "../util/time.js";
import { mountRootfs, unmountAll, type MountSpec } from "./mounts.js";

export interface IdmapContext {
  helper: string;
  /** The pod's pinned user namespace file. */
  userns: string;
  ids: PodUserns;
  /** A scratch directory of the container's for the idmapped layer binds. */
  scratch: string;
  /** The container's bundle (root's, 0700), opened to the pod's root. */
  bundle: string;
}

async function idmapMount(ctx: Ctx, c: IdmapContext, source: string, target: string) {
  const r = await run(ctx, c.helper, ["idmap", c.userns, source, target], {
    timeoutMs: helperTimeoutMs,
  });
  if (r.code !== 0)
    throw unknownError(`idmapped mount of ${source}: ${exitText(r)}: ${r.stderr.trim()}`);
}

/**
 * Lets the pod's root reach the rootfs in `bundle` (0700, root's): group of the mapped
 * gid 0 and mode 0710, as containerd prepares the bundle of a remapped container.
 */
async function openBundleToPod(bundle: string, ids: PodUserns): Promise<void> {
  await chown(bundle, 0, ids.gid.hostId);
  await chmod(bundle, 0o710);
}

/** Mounts `mounts` on `target` mapped through the pod's user namespace. */
export async function mountIdmappedRootfs(
  ctx: Ctx,
  mounts: readonly MountSpec[],
  target: string,
  c: IdmapContext,
): Promise<void> {
  if (mounts.length !== 1)
    throw invalidArgument(
      `a container in a pod with a user namespace needs one rootfs mount, got ${mounts.length}`,
    );
  const m = mounts[0]!;
  await openBundleToPod(c.bundle, c.ids);
  if (m.type !== "overlay") {
    await mountRootfs(ctx, mounts, target);
    try {
      await idmapMount(ctx, c, target, target);
    } catch (err) {
      await unmountAll(ctx, target).catch(() => undefined);
      throw err;
    }
    return;
  }
  const layers: string[] = [];
  await mkdir(c.scratch, { recursive: true, mode: 0o700 });
  try {
    const options: string[] = [];
    for (const o of m.options) {
      if (o.startsWith("upperdir=")) await chown(o.slice(9), c.ids.uid.hostId, c.ids.gid.hostId);
      if (!o.startsWith("lowerdir=")) {
        options.push(o);
        continue;
      }
      const mapped: string[] = [];
      for (const dir of o.slice(9).split(":")) {
        const layer = join(c.scratch, String(layers.length));
        await mkdir(layer);
        layers.push(layer);
        await idmapMount(ctx, c, dir, layer);
        mapped.push(layer);
      }
      options.push(`lowerdir=${mapped.join(":")}`);
    }
    await mountRootfs(ctx, [{ ...m, options }], target);
  } finally {
    for (const layer of layers) await unmountAll(ctx, layer).catch(() => undefined);
    await rm(c.scratch, { recursive: true, force: true }).catch(() => undefined);
  }
}
