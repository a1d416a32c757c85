// A container's root filesystem from an image (containerd's WithNewSnapshot + the image
// config): read the image's manifest and config through content.v1, compute the chain ID
// of its layers, and Prepare an active snapshot on it through snapshots.v1.
import { createHash } from "node:crypto";
import { invalidArgument, notFound } from "@sandboxd/errdefs";
import type { Mount } from "@sandboxd/api/types/mount_pb";
import type { CallOptions } from "./call-options.js";
import type { ImageProcessConfig } from "./images-config.js";
import type { Session } from "./session.js";

export interface ImageRootfs {
  snapshotter: string;
  /** The snapshot key (the container id). */
  key: string;
  mounts: Mount[];
  config: ImageProcessConfig;
  /** The manifest's layers (for reading files such as /etc/passwd). */
  layers: Desc[];
}

export interface Desc {
  mediaType: string;
  digest: string;
  platform?: { os: string; architecture: string; variant?: string };
}

const hostArch: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386" };

async function readJson<T>(session: Session, digest: string, call?: CallOptions): Promise<T> {
  const chunks: Buffer[] = [];
  for await (const r of session.services.content.read({ digest }, session.call(call)))
    chunks.push(Buffer.from(r.data));
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as T;
  } catch {
    throw invalidArgument(`content ${digest} is not JSON`);
  }
}

function chainId(diffIds: readonly string[]): string {
  let chain = "";
  for (const d of diffIds)
    chain = chain ? `sha256:${createHash("sha256").update(`${chain} ${d}`).digest("hex")}` : d;
  return chain;
}

/** Prepares snapshot `key` on the image's layers and returns its mounts and process config. */
export async function prepareImageRootfs(
  session: Session,
  imageName: string,
  key: string,
  call?: CallOptions,
  labels: Record<string, string> = {},
): Promise<ImageRootfs> {
  const r = await session.services.images.get({ name: imageName }, session.call(call));
  const target = r.image?.target;
  if (!target) throw notFound(`image "${imageName}" has no target`);
  let manifestDigest = target.digest;
  if (/index|manifest\.list/.test(target.mediaType)) {
    const index = await readJson<{ manifests: Desc[] }>(session, target.digest, call);
    const arch = hostArch[process.arch] ?? process.arch;
    const m = index.manifests.find(
      (d) => d.platform?.os === "linux" && d.platform.architecture === arch,
    );
    if (!m) throw notFound(`image "${imageName}" has no manifest for linux/${arch}`);
    manifestDigest = m.digest;
  }
  const manifest = await readJson<{ config: Desc; layers?: Desc[] }>(session, manifestDigest, call);
  const config = await readJson<{ config?: ImageProcessConfig; rootfs?: { diff_ids?: string[] } }>(
    session,
    manifest.config.digest,
    call,
  );
  const defaults = await session.defaultLabels(call);
  const snapshotter = defaults["containerd.io/defaults/snapshotter"] || "overlayfs";
  const prepared = await session.services.snapshots.prepare(
    { snapshotter, key, parent: chainId(config.rootfs?.diff_ids ?? []), labels },
    session.call(call),
  );
  return {
    snapshotter,
    key,
    mounts: prepared.mounts,
    config: config.config ?? {},
    layers: manifest.layers ?? [],
  };
}

/** Removes a container's snapshot. */
export async function removeSnapshot(
  session: Session,
  snapshotter: string,
  key: string,
  call?: CallOptions,
): Promise<void> {
  await session.services.snapshots.remove({ snapshotter, key }, session.call(call));
}
