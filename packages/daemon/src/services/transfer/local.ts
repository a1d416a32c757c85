/**
 * containerd's transfer service (core/transfer/local): source and destination
 * are Any of containerd.types.transfer messages, and each pair is one
 * operation: registry → image store (pull, unpack when asked), image store →
 * image store (tag), import stream → image store, image store → export
 * stream. Progress goes as containerd.types.transfer.Progress on the stream
 * named by options.progress_stream, which is closed at the end. Other pairs
 * are NotImplemented, naming both types.
 */
import { Readable } from "node:stream";
import { createGunzip, createZstdDecompress } from "node:zlib";
import type { Any } from "@bufbuild/protobuf/wkt";
import { receiveBytes, sendBytes } from "@sandboxd/api/byte-stream";
import { pack, typeNameOf, unpackAs } from "@sandboxd/api/names";
import type { TransferRequest } from "@sandboxd/api/services/transfer/v1/transfer_pb";
import { ImageStoreSchema, type ImageStore } from "@sandboxd/api/types/transfer/imagestore_pb";
import {
  ImageExportStreamSchema,
  ImageImportStreamSchema,
  type ImageExportStream,
  type ImageImportStream,
} from "@sandboxd/api/types/transfer/importexport_pb";
import { ProgressSchema } from "@sandboxd/api/types/transfer/progress_pb";
import { OCIRegistrySchema, type OCIRegistry } from "@sandboxd/api/types/transfer/registry_pb";
import type { Platform as PlatformMessage } from "@sandboxd/api/types/platform_pb";
import { namespaceRequired, type Ctx } from "@sandboxd/core";
import { canceled, invalidArgument, isAlreadyExists, notImplemented } from "@sandboxd/errdefs";
import { normalizePlatform, type ArchiveService, type Platform } from "@sandboxd/images";
import type { ImageStack } from "../images/stack.js";
import type { StreamManager } from "../streaming/manager.js";
import { pullOverTransfer, type ProgressFn, type TransferProgress } from "./pull.js";

export interface TransferDeps {
  readonly stack: ImageStack;
  readonly streams: StreamManager;
  readonly archives: ArchiveService;
  /** The daemon's hosts.toml config_path (a request's host_dir wins). */
  readonly hostsConfigPath: string;
}

function platformOf(p: PlatformMessage | undefined): Platform | undefined {
  if (!p?.os || !p.architecture) return undefined;
  return normalizePlatform({
    os: p.os,
    architecture: p.architecture,
    ...(p.variant ? { variant: p.variant } : {}),
  });
}

/**
 * containerd's import (core/transfer/archive) decompresses the stream by its
 * magic bytes (gzip or zstd) when no media_type is given, and reads it as is
 * when one is.
 */
async function* decompressed(
  source: AsyncIterable<Uint8Array>,
  mediaType: string,
): AsyncIterable<Uint8Array> {
  if (mediaType) {
    yield* source;
    return;
  }
  const it = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  const held: Uint8Array[] = [];
  while (head.length < 4) {
    const next = await it.next();
    if (next.done) break;
    held.push(next.value);
    head = Buffer.concat([head, next.value]);
  }
  const rest = async function* (): AsyncIterable<Uint8Array> {
    yield* held;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  };
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const zstd = head.readUInt32LE(0) === 0xfd2fb528;
  if (!gzip && !zstd) {
    yield* rest();
    return;
  }
  yield* Readable.from(rest()).pipe(gzip ? createGunzip() : createZstdDecompress());
}

const typeName = (a: Any | undefined): string => (a?.typeUrl ? typeNameOf(a.typeUrl) : "nothing");

export class TransferLocal {
  readonly #d: TransferDeps;

  constructor(deps: TransferDeps) {
    this.#d = deps;
  }

  async transfer(ctx: Ctx, req: TransferRequest): Promise<void> {
    const ns = namespaceRequired(ctx);
    const progressId = req.options?.progressStream ?? "";
    const stream = progressId ? this.#d.streams.get(ns, progressId) : undefined;
    const progress: ProgressFn = (p: TransferProgress) =>
      stream?.send(
        pack(ProgressSchema, {
          event: p.event,
          name: p.name ?? "",
          parents: [...(p.parents ?? [])],
          progress: BigInt(p.progress ?? 0),
          total: BigInt(p.total ?? 0),
          ...(p.desc
            ? {
                desc: {
                  mediaType: p.desc.mediaType,
                  digest: p.desc.digest,
                  size: BigInt(p.desc.size),
                },
              }
            : {}),
        }),
      );
    try {
      await this.#dispatch(ctx, req, progress);
    } finally {
      stream?.close();
    }
  }

  async #dispatch(ctx: Ctx, req: TransferRequest, progress: ProgressFn): Promise<void> {
    const src = req.source;
    const dst = req.destination;
    const store = dst ? unpackAs(dst, ImageStoreSchema) : undefined;
    if (src && store) {
      const registry = unpackAs(src, OCIRegistrySchema);
      if (registry) return this.#pull(ctx, registry, store, progress);
      const from = unpackAs(src, ImageStoreSchema);
      if (from) return this.#tag(ctx, from, store, progress);
      const imported = unpackAs(src, ImageImportStreamSchema);
      if (imported) return this.#import(ctx, imported, store, progress);
    }
    const exported = dst ? unpackAs(dst, ImageExportStreamSchema) : undefined;
    const from = src ? unpackAs(src, ImageStoreSchema) : undefined;
    if (from && exported) return this.#export(ctx, from, exported, progress);
    throw notImplemented(
      `method Transfer not implemented for ${typeName(src)} to ${typeName(dst)}`,
    );
  }

  async #pull(
    ctx: Ctx,
    registry: OCIRegistry,
    store: ImageStore,
    progress: ProgressFn,
  ): Promise<void> {
    if (!registry.reference) throw invalidArgument("OCIRegistry.reference must not be empty");
    const unpack = store.unpacks[0];
    const platform = platformOf(unpack?.platform) ?? platformOf(store.platforms[0]);
    await pullOverTransfer(ctx, {
      stack: this.#d.stack,
      streams: this.#d.streams,
      hostsConfigPath: registry.resolver?.hostDir || this.#d.hostsConfigPath,
      registry,
      name: store.name || registry.reference,
      labels: store.labels,
      ...(platform ? { platform } : {}),
      unpack: store.unpacks.length > 0,
      snapshotter: unpack?.snapshotter ?? "",
      progress,
    });
  }

  /** containerd's tag: the source image's target under the destination's name(s). */
  #tag(ctx: Ctx, from: ImageStore, to: ImageStore, progress: ProgressFn): void {
    const images = this.#d.stack.images;
    const source = images.get(ctx, from.name);
    const names = [to.name, ...to.extraReferences.map((r) => r.name)].filter(Boolean);
    if (names.length === 0) throw invalidArgument("ImageStore destination has no name");
    for (const name of names) {
      const record = { name, labels: { ...to.labels }, target: source.target };
      try {
        images.create(ctx, record);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        images.update(ctx, record, ["target"]);
      }
      progress({ event: "saved", name });
    }
  }

  async #import(
    ctx: Ctx,
    src: ImageImportStream,
    to: ImageStore,
    progress: ProgressFn,
  ): Promise<void> {
    if (!src.stream) throw invalidArgument("ImageImportStream.stream must name a stream");
    const stream = this.#d.streams.get(namespaceRequired(ctx), src.stream);
    const prefix = to.extraReferences.find((r) => r.isPrefix)?.name;
    const platform = platformOf(to.unpacks[0]?.platform) ?? platformOf(to.platforms[0]);
    const records = await this.#d.archives.import(
      ctx,
      decompressed(receiveBytes(stream, ctx.signal), src.mediaType),
      {
        ...(prefix ? { baseName: prefix } : {}),
        ...(platform ? { platform } : {}),
        labels: to.labels,
        unpack: to.unpacks.length > 0,
        onProgress: (e) => progress({ event: e.kind, name: e.name }),
      },
    );
    // A named destination (ctr import --index-name) also names the first image.
    const first = records[0];
    if (to.name && first && to.name !== first.name) {
      const record = { name: to.name, labels: { ...to.labels }, target: first.target };
      try {
        this.#d.stack.images.create(ctx, record);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        this.#d.stack.images.update(ctx, record, ["target"]);
      }
      progress({ event: "saved", name: to.name });
    }
  }

  async #export(
    ctx: Ctx,
    from: ImageStore,
    dst: ImageExportStream,
    progress: ProgressFn,
  ): Promise<void> {
    if (!dst.stream) throw invalidArgument("ImageExportStream.stream must name a stream");
    const names = [from.name, ...from.extraReferences.map((r) => r.name)].filter(Boolean);
    const stream = this.#d.streams.get(namespaceRequired(ctx), dst.stream);
    const platform = platformOf(dst.platforms[0]);
    const tar = await this.#d.archives.export(ctx, names, {
      ...(platform ? { platform } : {}),
      skipDockerManifest: dst.skipCompatibilityManifest,
    });
    if (!(await sendBytes(stream, tar, ctx.signal))) {
      throw canceled("the receiver of the byte stream went away");
    }
    for (const name of names) progress({ event: "exported", name });
  }
}
