/**
 * Unpacks a pulled image into a snapshotter (containerd's core/unpack, the sequence ctr
 * 1.6 runs, images-anchors §1.7 steps 8-9): for each layer, skip it when its chain ID is
 * already committed; else Prepare `extract-<nanos>-<rand> <chainID>` on the parent chain,
 * apply the layer blob onto the mounts, check the diffID against the config, Commit as the
 * chain ID and label the blob `containerd.io/uncompressed`. The config then gets
 * `containerd.io/gc.ref.snapshot.<snapshotter>` = the top chain ID, so GC keeps the
 * snapshots as long as the image.
 */
import { randomBytes } from "node:crypto";
import type { Ctx } from "@sandboxd/core";
import { invalidArgument, isAlreadyExists, isNotFound } from "@sandboxd/errdefs";
import type { ContentStore } from "../content/types.js";
import type { Mount, Snapshotter } from "../snapshots/types.js";
import { applyLayer, chainIds } from "../unpack/unpack.js";
import type { PulledImage } from "./types.js";

export interface UnpackDeps {
  readonly snapshotter: Snapshotter;
  /** The content store, with the path of a committed blob (LocalContentStore.blobPath). */
  readonly content: ContentStore & { blobPath(digest: string): string };
  /** Applies a layer blob onto snapshot mounts (Diff.Apply); default ../unpack's applyLayer. */
  readonly applyLayer?: (
    ctx: Ctx,
    blobPath: string,
    mounts: Mount[],
  ) => Promise<{ diffId: string }>;
}

export const uncompressedLabel = "containerd.io/uncompressed";

function exists(ctx: Ctx, snapshotter: Snapshotter, key: string): boolean {
  try {
    snapshotter.stat(ctx, key);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Unpacks `image`; returns the top chain ID (the parent of a container's snapshot). */
export async function unpackImage(ctx: Ctx, deps: UnpackDeps, image: PulledImage): Promise<string> {
  const { snapshotter, content } = deps;
  const diffIds = image.imageConfig.rootfs.diff_ids;
  const chain = chainIds(diffIds);
  const apply = deps.applyLayer ?? applyLayer;
  let parent: string | undefined;
  for (const [i, layer] of image.layers.entries()) {
    const chainId = chain[i] ?? "";
    if (!exists(ctx, snapshotter, chainId)) {
      const key = `extract-${process.hrtime.bigint()}-${randomBytes(2).toString("hex")} ${chainId}`;
      const mounts = await snapshotter.prepare(ctx, key, parent);
      try {
        const { diffId } = await apply(ctx, content.blobPath(layer.digest), mounts);
        if (diffId !== diffIds[i]) {
          throw invalidArgument(
            `${image.name}: wrong diff id calculated on extraction of layer ${i} (${layer.digest}): got ${diffId}, the config says ${diffIds[i]}`,
          );
        }
        await snapshotter.commit(ctx, chainId, key);
      } catch (err) {
        await snapshotter.remove(ctx, key).catch(() => undefined);
        if (!isAlreadyExists(err)) throw err;
        // Another unpack committed the same chain meanwhile: use it.
      }
      await content.update(
        ctx,
        { digest: layer.digest, labels: { [uncompressedLabel]: diffIds[i] ?? "" } },
        [`labels.${uncompressedLabel}`],
      );
    }
    parent = chainId;
  }
  const top = chain.at(-1) ?? "";
  const gcLabel = `containerd.io/gc.ref.snapshot.${snapshotter.name}`;
  await content.update(ctx, { digest: image.config.digest, labels: { [gcLabel]: top } }, [
    `labels.${gcLabel}`,
  ]);
  return top;
}
