/**
 * Unpacking an image (containerd's image.Unpack as ctr 1.6 drives it): for
 * each layer of the manifest, in order, skip it when its chain ID is already
 * a committed snapshot, else Prepare `extract-<nanos>-<rand> <chainID>` on the
 * previous chain ID, apply the layer blob, check the diffID against the
 * config's rootfs.diff_ids ("wrong diff id calculated on extraction"), and
 * Commit it as the chain ID. Then label each layer blob
 * `containerd.io/uncompressed=<diffID>` and the config
 * `containerd.io/gc.ref.snapshot.<snapshotter>=<top chainID>`, so GC keeps the
 * snapshots as long as the image.
 */
import { randomBytes } from "node:crypto";
import type { Ctx } from "@sandboxd/core";
import {
  failedPrecondition,
  invalidArgument,
  isAlreadyExists,
  isNotFound,
} from "@sandboxd/errdefs";
import type { LocalContentStore } from "../content/store.js";
import type { DirSnapshotter } from "../snapshots/snapshotter.js";
import { applyLayer, chainIds } from "./unpack.js";

export interface UnpackResult {
  chainId: string;
  /** Layers applied now (the others were present). */
  applied: number;
  layers: number;
}

interface ManifestJson {
  config?: { digest?: string };
  layers?: { digest?: string; mediaType?: string }[];
}

async function readJson<T>(ctx: Ctx, content: LocalContentStore, digest: string): Promise<T> {
  const parts: Uint8Array[] = [];
  for await (const c of content.read(ctx, digest)) parts.push(c);
  try {
    return JSON.parse(Buffer.concat(parts).toString("utf8")) as T;
  } catch (err) {
    throw invalidArgument(`blob ${digest} is not JSON`, { cause: err });
  }
}

export async function unpackImage(
  ctx: Ctx,
  content: LocalContentStore,
  snapshotter: DirSnapshotter,
  manifestDigest: string,
): Promise<UnpackResult> {
  const manifest = await readJson<ManifestJson>(ctx, content, manifestDigest);
  const configDigest = manifest.config?.digest;
  if (!configDigest || !Array.isArray(manifest.layers)) {
    throw invalidArgument(`manifest ${manifestDigest} has no config or layers`);
  }
  const config = await readJson<{ rootfs?: { diff_ids?: string[] } }>(ctx, content, configDigest);
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) {
    throw invalidArgument(
      `manifest ${manifestDigest} has ${manifest.layers.length} layers but its config lists ${diffIds.length} diff ids`,
    );
  }
  const chain = chainIds(diffIds);
  let parent = "";
  let applied = 0;
  for (const [i, layer] of manifest.layers.entries()) {
    const chainId = chain[i] as string;
    const diffId = diffIds[i] as string;
    if (!exists(ctx, snapshotter, chainId)) {
      await applyOne(ctx, content, snapshotter, layer.digest ?? "", chainId, parent, diffId);
      applied++;
    }
    await content.update(
      ctx,
      { digest: layer.digest ?? "", labels: { "containerd.io/uncompressed": diffId } },
      ["labels.containerd.io/uncompressed"],
    );
    parent = chainId;
  }
  const label = `containerd.io/gc.ref.snapshot.${snapshotter.name}`;
  await content.update(ctx, { digest: configDigest, labels: { [label]: parent } }, [
    `labels.${label}`,
  ]);
  return { chainId: parent, applied, layers: chain.length };
}

function exists(ctx: Ctx, snapshotter: DirSnapshotter, key: string): boolean {
  try {
    snapshotter.stat(ctx, key);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

async function applyOne(
  ctx: Ctx,
  content: LocalContentStore,
  snapshotter: DirSnapshotter,
  digest: string,
  chainId: string,
  parent: string,
  diffId: string,
): Promise<void> {
  await content.info(ctx, digest);
  const key = `extract-${process.hrtime.bigint()}-${randomBytes(3).toString("base64url")} ${chainId}`;
  const mounts = await snapshotter.prepare(ctx, key, parent);
  try {
    const result = await applyLayer(ctx, content.blobPath(digest), mounts);
    if (result.diffId !== diffId) {
      throw failedPrecondition(
        `wrong diff id calculated on extraction of ${digest}: got ${result.diffId}, want ${diffId}`,
      );
    }
    await snapshotter.commit(ctx, chainId, key);
  } catch (err) {
    await snapshotter.remove(ctx, key).catch(() => undefined);
    // Another unpack of the same layer won the race: its snapshot serves.
    if (isAlreadyExists(err) && exists(ctx, snapshotter, chainId)) return;
    throw err;
  }
}
