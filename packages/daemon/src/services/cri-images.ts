/**
 * The CRI's view of the daemon's image services (ImagesPort): pulls through
 * the daemon's PullService, records through ImagesLocal (events, GC on
 * delete), manifests and configs from the content store, rootfs snapshots
 * from the default snapshotter.
 */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  DeleteImageRequestSchema,
  ListImagesRequestSchema,
} from "@sandboxd/api/services/images/v1/images_pb";
import type { Ctx } from "@sandboxd/core";
import type { ImageEntry, ImagesPort } from "@sandboxd/cri";
import { isNotFound, failedPrecondition } from "@sandboxd/errdefs";
import {
  chainIds,
  defaultPlatform,
  formatReference,
  isIndexType,
  parseReference,
  selectManifest,
  snapshotterDir,
  type Index,
  type Manifest,
  type PullService,
} from "@sandboxd/images";
import type { Exchange } from "../events/exchange.js";
import { ImagesLocal } from "./images/local.js";
import type { ImageStack } from "./images/stack.js";

async function readJson<T>(ctx: Ctx, stack: ImageStack, digest: string): Promise<T> {
  const parts: Uint8Array[] = [];
  for await (const c of stack.content.read(ctx, digest)) parts.push(c);
  return JSON.parse(Buffer.concat(parts).toString("utf8")) as T;
}

interface ConfigJson {
  config?: ImageEntry["config"];
  rootfs?: { diff_ids?: string[] };
}

async function resolve(
  ctx: Ctx,
  stack: ImageStack,
  name: string,
  target: { digest: string; mediaType: string; size: bigint },
  labels: Record<string, string>,
): Promise<ImageEntry> {
  let size = Number(target.size);
  let manifestDigest = target.digest;
  if (isIndexType(target.mediaType)) {
    const index = await readJson<Index>(ctx, stack, target.digest);
    const m = selectManifest(index, defaultPlatform(), name);
    manifestDigest = m.digest;
    size += m.size;
  }
  const manifest = await readJson<Manifest>(ctx, stack, manifestDigest);
  const config = await readJson<ConfigJson>(ctx, stack, manifest.config.digest);
  size += manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0);
  return {
    name,
    digest: target.digest,
    configDigest: manifest.config.digest,
    size,
    config: config.config ?? {},
    chainId: chainIds(config.rootfs?.diff_ids ?? []).at(-1) ?? "",
    labels,
  };
}

async function usage(dir: string): Promise<{ bytes: number; inodes: number }> {
  let bytes = 0;
  let inodes = 0;
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const p = join(d, e.name);
      const st = await lstat(p).catch(() => undefined);
      if (!st) continue;
      inodes++;
      bytes += st.blocks * 512;
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return { bytes, inodes };
}

export function criImages(
  stack: ImageStack,
  pulls: PullService,
  root: string,
  exchange: Exchange,
): ImagesPort {
  const local = new ImagesLocal(stack.images, (ctx) => stack.gc.collect(ctx), exchange);
  const snapshotter = stack.snapshotters.get(stack.defaultSnapshotter);
  return {
    snapshotter: stack.defaultSnapshotter,
    normalize: (ref) => formatReference(parseReference(ref)),
    async pull(ctx, ref, auth) {
      const image = await pulls.pull(ctx, ref, auth ? { auth } : {});
      return image.name;
    },
    async list(ctx) {
      const out: ImageEntry[] = [];
      for (const r of local.list(ctx, create(ListImagesRequestSchema, {})).images ?? []) {
        if (!r.target || !r.name) continue;
        const t = r.target as { digest: string; mediaType: string; size: bigint };
        try {
          out.push(await resolve(ctx, stack, r.name, t, { ...r.labels }));
        } catch (err) {
          // A record whose content is missing (mid-pull, or another platform's) is no CRI image.
          ctx.log.debug({ error: String(err), image: r.name }, "image not resolvable");
        }
      }
      return out;
    },
    async remove(ctx, names) {
      for (const name of names) {
        try {
          await local.delete(ctx, create(DeleteImageRequestSchema, { name, sync: true }));
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
    },
    async fsInfo() {
      const mountpoint = snapshotterDir(root, stack.defaultSnapshotter as "overlayfs" | "native");
      const u = await usage(mountpoint);
      return { mountpoint, usedBytes: u.bytes, inodesUsed: u.inodes };
    },
    async prepare(ctx, key, parent) {
      if (!snapshotter) throw failedPrecondition("no snapshotter to prepare a rootfs in");
      const mounts = await snapshotter.prepare(ctx, key, parent);
      return mounts.map((m) => ({
        type: m.type,
        source: m.source,
        options: [...m.options],
      }));
    },
    mounts(ctx, key) {
      if (!snapshotter) return Promise.reject(failedPrecondition("no snapshotter"));
      return Promise.resolve(
        snapshotter.mounts(ctx, key).map((m) => ({ ...m, options: [...m.options] })),
      );
    },
    async removeSnapshot(ctx, key) {
      if (!snapshotter) return;
      try {
        await snapshotter.remove(ctx, key);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
  };
}
