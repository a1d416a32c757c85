/**
 * Import and export over the daemon's stores, what `ctr images import|export`
 * does client-side: records created (or retargeted, as ctr's Update-then-Create)
 * after the content is committed, then the host platform's manifest unpacked
 * into the default snapshotter; export by image names.
 */
import type { Ctx } from "@sandboxd/core";
import { isAlreadyExists, isNotFound } from "@sandboxd/errdefs";
import type { ImageRecord, ImageStore } from "../content/imagestore.js";
import type { LocalContentStore } from "../content/store.js";
import { isIndexType, isManifestType, type Index } from "../distribution/media-types.js";
import { defaultPlatform, type Platform } from "../distribution/platforms.js";
import { selectManifest } from "../distribution/select.js";
import type { DirSnapshotter } from "../snapshots/snapshotter.js";
import { unpackImage } from "../unpack/image.js";
import { exportArchive, type ExportOptions } from "./export.js";
import { importArchive, type ImportOptions } from "./import.js";

export interface ArchiveServiceDeps {
  readonly content: LocalContentStore;
  readonly images: ImageStore;
  /** Where imports unpack (none: no unpack). */
  readonly snapshotter?: DirSnapshotter | undefined;
  /** Runs `fn` with garbage collection held off (content is unreferenced until recorded). */
  readonly hold?: <T>(fn: () => Promise<T>) => Promise<T>;
}

export interface ImportRequest extends ImportOptions {
  /** Default true when there is a snapshotter. */
  readonly unpack?: boolean;
  readonly platform?: Platform;
  /** Labels for the image records. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Called once per image recorded, and per unpack. */
  readonly onProgress?: (event: { kind: "saved" | "unpacked"; name: string }) => void;
}

export class ArchiveService {
  readonly #d: ArchiveServiceDeps;

  constructor(deps: ArchiveServiceDeps) {
    this.#d = deps;
  }

  async import(
    ctx: Ctx,
    source: AsyncIterable<Uint8Array>,
    request: ImportRequest = {},
  ): Promise<ImageRecord[]> {
    const hold = this.#d.hold ?? ((fn) => fn());
    return hold(async () => {
      const result = await importArchive(ctx, this.#d.content, source, request);
      const records: ImageRecord[] = [];
      for (const image of result.images) {
        const record = {
          name: image.name,
          labels: { ...request.labels },
          target: {
            mediaType: image.target.mediaType,
            digest: image.target.digest,
            size: image.target.size,
            annotations: { ...image.target.annotations },
          },
        };
        let saved: ImageRecord;
        try {
          saved = this.#d.images.create(ctx, record);
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
          saved = this.#d.images.update(ctx, record, ["target"]);
        }
        records.push(saved);
        request.onProgress?.({ kind: "saved", name: image.name });
      }
      const snapshotter = this.#d.snapshotter;
      if (snapshotter && request.unpack !== false) {
        for (const r of records) {
          const manifest = await this.#platformManifest(ctx, r, request.platform);
          if (!manifest) continue;
          await unpackImage(ctx, this.#d.content, snapshotter, manifest);
          request.onProgress?.({ kind: "unpacked", name: r.name });
        }
      }
      return records;
    });
  }

  /** The export of `names` (records must exist: NotFound names the missing one). */
  async export(
    ctx: Ctx,
    names: readonly string[],
    options: ExportOptions = {},
  ): Promise<AsyncIterable<Buffer>> {
    const images = names.map((name) => this.#d.images.get(ctx, name));
    return exportArchive(ctx, this.#d.content, images, options);
  }

  /** The manifest to unpack for the platform, or undefined when the image has none for it. */
  async #platformManifest(
    ctx: Ctx,
    record: ImageRecord,
    platform: Platform | undefined,
  ): Promise<string | undefined> {
    const t = record.target;
    if (isManifestType(t.mediaType)) return t.digest;
    if (!isIndexType(t.mediaType)) return undefined;
    const parts: Uint8Array[] = [];
    for await (const c of this.#d.content.read(ctx, t.digest)) parts.push(c);
    const index = JSON.parse(Buffer.concat(parts).toString("utf8")) as Index;
    const present = [];
    for (const m of index.manifests ?? []) {
      try {
        await this.#d.content.info(ctx, m.digest);
        present.push(m);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    try {
      const chosen = selectManifest(
        { ...index, manifests: present },
        platform ?? defaultPlatform(),
        record.name,
      );
      return isManifestType(chosen.mediaType) ? chosen.digest : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}
