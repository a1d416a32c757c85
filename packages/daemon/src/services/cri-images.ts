/**
 * The CRI's view of the daemon's image services (ImagesPort): pulls through
 * the daemon's PullService, records through ImagesLocal (events, GC on
 * delete), manifests and configs from the content store, rootfs snapshots
 * from the default snapshotter, their usage through the snapshotters' Usage
 * (`snapshot-usage.ts` bounds and shares those walks).
 */
import { create } from "@bufbuild/protobuf";
import {
  DeleteImageRequestSchema,
  ListImagesRequestSchema,
} from "@sandboxd/api/services/images/v1/images_pb";
import type { Ctx } from "@sandboxd/core";
import type { ImageEntry, ImagesPort } from "@sandboxd/cri";
import { Kind, isNotFound, failedPrecondition, notFound, wrapAs } from "@sandboxd/errdefs";
import {
  chainIds,
  defaultPlatform,
  formatReference,
  isIndexType,
  parseReference,
  selectManifest,
  type Index,
  type Manifest,
  type PullService,
} from "@sandboxd/images";
import type { Exchange } from "../events/exchange.js";
import { ImagesLocal } from "./images/local.js";
import type { ImageStack } from "./images/stack.js";
import { UsageMemo } from "./snapshot-usage.js";

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

export function criImages(stack: ImageStack, pulls: PullService, exchange: Exchange): ImagesPort {
  const local = new ImagesLocal(stack.images, (ctx) => stack.gc.collect(ctx), exchange);
  const snapshotter = stack.snapshotters.get(stack.defaultSnapshotter);
  const find = (name: string) => {
    const s = stack.snapshotters.get(name);
    if (!s) throw notFound(`snapshotter ${JSON.stringify(name)} was not found`);
    return s;
  };
  const memo = new UsageMemo(async (ctx, name, key) => {
    try {
      return await find(name).usage(ctx, key);
    } catch (err) {
      // Its directory went away between the record being read and the walk: removed meanwhile.
      if (err instanceof Error && "code" in err && err.code === "ENOENT")
        throw wrapAs(Kind.NotFound, err, `snapshot ${JSON.stringify(key)} removed while measured`);
      throw err;
    }
  });
  const root = (name: string) => find(name).root;
  return {
    snapshotter: stack.defaultSnapshotter,
    root,
    async usage(ctx, name, key) {
      const m = await memo.get(ctx, name, key);
      return { usedBytes: m.size, inodesUsed: m.inodes, timestampMs: m.atMs };
    },
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
    async fsInfo(ctx) {
      const name = stack.defaultSnapshotter;
      const keys = find(name)
        .walk(ctx)
        .map((i) => i.name);
      let usedBytes = 0;
      let inodesUsed = 0;
      let timestampMs = Date.now();
      const all = await Promise.allSettled(keys.map((k) => memo.get(ctx, name, k)));
      for (const r of all) {
        // A snapshot removed since the walk listed it uses nothing.
        if (r.status === "rejected") {
          if (isNotFound(r.reason)) continue;
          throw r.reason;
        }
        usedBytes += r.value.size;
        inodesUsed += r.value.inodes;
        timestampMs = Math.min(timestampMs, r.value.atMs);
      }
      return { mountpoint: root(name), usedBytes, inodesUsed, timestampMs };
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
      memo.forget(ctx, stack.defaultSnapshotter, key);
    },
  };
}
