/**
 * Pull = resolve + fetch into the content store + image record (+ unpack), the sequence
 * ctr 1.6 runs: the root manifest or index, the platform's manifest, then config and
 * layers (3 at a time, shared downloads deduplicated), with containerd's GC labels
 * (`containerd.io/gc.ref.content.*`) and `containerd.io/distribution.source.<host>` on
 * what was fetched, so the store's GC keeps exactly what the image references.
 */
import type { Ctx } from "@sandboxd/core";
import { invalidArgument, isAlreadyExists, notImplemented } from "@sandboxd/errdefs";
import type { ContentStore } from "../content/types.js";
import type { RegistryClient } from "../distribution/client.js";
import { ingestRef, type BlobFetcher, type BlobProgress } from "../distribution/fetcher.js";
import {
  MediaType,
  isIndexType,
  isManifestType,
  layerCompression,
  type Descriptor,
  type Index,
  type Manifest,
} from "../distribution/media-types.js";
import { defaultPlatform } from "../distribution/platforms.js";
import { formatReference, parseReference, type Reference } from "../distribution/reference.js";
import { selectManifest } from "../distribution/select.js";
import type { ImageConfig, ImageRecords, PulledImage, PullOptions } from "./types.js";

export const labels = {
  gcRefContent: "containerd.io/gc.ref.content",
  distributionSource: "containerd.io/distribution.source",
} as const;

export interface PullerDeps {
  readonly client: RegistryClient;
  readonly fetcher: BlobFetcher;
  readonly store: ContentStore;
  readonly images: ImageRecords;
}

function descriptor(d: Descriptor): Descriptor {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.annotations ? { annotations: d.annotations } : {}),
  };
}

function parseJson<T>(data: Buffer, what: string): T {
  try {
    return JSON.parse(data.toString("utf8")) as T;
  } catch {
    throw invalidArgument(`${what} is not valid JSON`);
  }
}

/** Writes a small blob already in memory (verified by its caller), with labels. */
export async function writeBlob(
  ctx: Ctx,
  store: ContentStore,
  desc: Descriptor,
  data: Buffer,
  blobLabels: Record<string, string>,
): Promise<void> {
  let writer;
  try {
    writer = await store.writer(ctx, {
      ref: ingestRef(desc),
      expected: desc.digest,
      total: desc.size,
    });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    await mergeLabels(ctx, store, desc.digest, blobLabels);
    return;
  }
  try {
    if (writer.offset !== 0) await writer.truncate(0);
    await writer.write(data);
    await writer.commit(desc.size, desc.digest, blobLabels);
  } catch (err) {
    await writer.close().catch(() => undefined);
    if (isAlreadyExists(err)) {
      await mergeLabels(ctx, store, desc.digest, blobLabels);
      return;
    }
    await store.abort(ctx, ingestRef(desc)).catch(() => undefined);
    throw err;
  }
}

async function mergeLabels(
  ctx: Ctx,
  store: ContentStore,
  digest: string,
  add: Record<string, string>,
): Promise<void> {
  const keys = Object.keys(add);
  if (keys.length === 0) return;
  await store.update(
    ctx,
    { digest, labels: add },
    keys.map((k) => `labels.${k}`),
  );
}

export class Puller {
  readonly #deps: PullerDeps;

  constructor(deps: PullerDeps) {
    this.#deps = deps;
  }

  async pull(
    ctx: Ctx,
    reference: string | Reference,
    options: PullOptions = {},
  ): Promise<PulledImage> {
    const started = Date.now();
    const { client, fetcher, store, images } = this.#deps;
    const ref = typeof reference === "string" ? parseReference(reference) : reference;
    const name = formatReference(ref);
    const emit = options.onProgress ?? (() => undefined);
    const platform = options.platform ?? defaultPlatform();
    const source = { [`${labels.distributionSource}.${ref.domain}`]: ref.path };

    emit({ kind: "resolving", name });
    const { descriptor: root } = await client.resolve(ctx, ref);
    emit({ kind: "resolved", name, digest: root.digest, mediaType: root.mediaType });
    if (root.mediaType === MediaType.dockerSchema1) {
      throw notImplemented(
        `${name}: Docker schema 1 manifests are not supported (push the image again with a current client)`,
      );
    }

    let manifestDesc = root;
    let manifestData: Buffer;
    const rootData = await client.fetchManifest(ctx, ref, root);
    if (isIndexType(root.mediaType)) {
      const index = parseJson<Index>(rootData, `index ${root.digest}`);
      if (!Array.isArray(index.manifests))
        throw invalidArgument(`index ${root.digest} has no manifests`);
      manifestDesc = descriptor(selectManifest(index, platform, name));
      manifestData = await client.fetchManifest(ctx, ref, manifestDesc);
      await writeBlob(ctx, store, root, rootData, {
        ...source,
        [`${labels.gcRefContent}.m.0`]: manifestDesc.digest,
      });
    } else if (isManifestType(root.mediaType)) {
      manifestData = rootData;
    } else {
      throw invalidArgument(`${name}: unsupported manifest media type "${root.mediaType}"`);
    }

    const manifest = parseJson<Manifest>(manifestData, `manifest ${manifestDesc.digest}`);
    if (!manifest.config?.digest || !Array.isArray(manifest.layers)) {
      throw invalidArgument(`manifest ${manifestDesc.digest} has no config or layers`);
    }
    const config = descriptor(manifest.config);
    const layers = manifest.layers.map(descriptor);
    for (const layer of layers) {
      if (layerCompression(layer.mediaType) === undefined) {
        throw invalidArgument(
          `${name}: layer ${layer.digest} has unsupported media type "${layer.mediaType}"`,
        );
      }
    }
    emit({ kind: "manifest", digest: manifestDesc.digest, layers, config });

    // Children first, then the manifest that references them: a crash leaves no label
    // pointing at content that never arrived.
    const onBlob = (p: BlobProgress): void => emit({ kind: "blob", ...p });
    const configData = await client.fetchManifest(ctx, ref, config);
    await writeBlob(ctx, store, config, configData, source);
    emit({
      kind: "blob",
      digest: config.digest,
      mediaType: config.mediaType,
      state: "done",
      offset: config.size,
      total: config.size,
    });
    const imageConfig = parseJson<ImageConfig>(configData, `config ${config.digest}`);
    const diffIDs = imageConfig.rootfs?.diff_ids;
    if (!Array.isArray(diffIDs) || diffIDs.length !== layers.length) {
      throw invalidArgument(
        `${name}: the config lists ${diffIDs?.length ?? 0} diff_ids for ${layers.length} layers`,
      );
    }
    await Promise.all(layers.map((l) => fetcher.fetch(ctx, client, store, ref, l, onBlob, source)));

    const manifestLabels: Record<string, string> = {
      ...source,
      [`${labels.gcRefContent}.config`]: config.digest,
    };
    layers.forEach((l, i) => (manifestLabels[`${labels.gcRefContent}.l.${i}`] = l.digest));
    await writeBlob(ctx, store, manifestDesc, manifestData, manifestLabels);

    const record = { name, target: descriptor(root), labels: { ...options.labels } };
    try {
      await images.create(ctx, record);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      await images.update(ctx, record);
    }
    const pulled: PulledImage = {
      name,
      target: record.target,
      manifest: manifestDesc,
      config,
      layers,
      platform,
      imageConfig,
    };
    if (options.unpack) {
      emit({ kind: "unpacking", name });
      await options.unpack(ctx, pulled);
    }
    emit({ kind: "done", name, digest: root.digest, elapsedMs: Date.now() - started });
    return pulled;
  }
}
