/**
 * ContainerStats.writable_layer as containerd's CRI answers it: the usage of
 * the container's own snapshot (its `snapshotter` + `snapshot_key`, the active
 * snapshot CreateContainer prepared on the image), `fs_id.mountpoint` the
 * snapshotter's root directory, the timestamp when it was measured. A
 * container with no snapshot (a local directory standing in for an image), or
 * whose snapshot cannot be measured, uses 0 bytes and 0 inodes on that
 * mountpoint: containerd's answer when its snapshot cache has no entry for
 * the container (its timestamp there is 0, a Go zero value; here it is now,
 * since kubelet reads it as the sample's time).
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { FilesystemUsageSchema, type FilesystemUsage } from "@sandboxd/api/cri/runtime/v1/api_pb";
import type { Ctx } from "@sandboxd/core";
import { isNotFound, messageOf } from "@sandboxd/errdefs";
import type { FsUsage, ImagesPort } from "../backend.js";
import type { CriContainer } from "./records.js";
import { nsOf } from "./util.js";

type Layer = MessageInitShape<typeof FilesystemUsageSchema>;

/** The writable layer of each container of `list`, by container id; never rejects. */
export async function writableLayers(
  ctx: Ctx,
  images: Pick<ImagesPort, "snapshotter" | "root" | "usage">,
  list: readonly CriContainer[],
): Promise<Map<string, FilesystemUsage>> {
  const out = new Map<string, FilesystemUsage>();
  await Promise.all(
    list.map(async (c) => {
      const snapshotter = c.record.snapshotter || images.snapshotter;
      const mountpoint = rootOf(images, snapshotter);
      const key = c.record.snapshotKey;
      let u: FsUsage | undefined;
      if (key) {
        try {
          u = await images.usage(ctx, snapshotter, key);
        } catch (err) {
          // Removed meanwhile: nothing to count. Anything else is logged, as containerd logs
          // a failed Usage and answers 0 for that container rather than failing the list.
          if (!isNotFound(err))
            ctx.log.warn({ id: c.id, key, error: messageOf(err) }, "writable layer usage");
        }
      }
      out.set(c.id, create(FilesystemUsageSchema, layerOf(mountpoint, u)));
    }),
  );
  return out;
}

export function layerOf(mountpoint: string, u: FsUsage | undefined): Layer {
  return {
    timestamp: nsOf(u?.timestampMs ?? Date.now()),
    fsId: { mountpoint },
    usedBytes: { value: BigInt(u?.usedBytes ?? 0) },
    inodesUsed: { value: BigInt(u?.inodesUsed ?? 0) },
  };
}

/** The snapshotter's root; the default snapshotter's when the record names one that is gone. */
function rootOf(images: Pick<ImagesPort, "snapshotter" | "root">, snapshotter: string): string {
  try {
    return images.root(snapshotter);
  } catch {
    return images.root(images.snapshotter);
  }
}
