/**
 * Image archive export, as containerd's archive.Export: an OCI layout tar
 * (`oci-layout`, `index.json` whose entries carry `io.containerd.image.name`
 * and `org.opencontainers.image.ref.name`, `blobs/sha256/…`) plus the
 * docker-compatible `manifest.json` (Config, RepoTags, Layers as blob paths),
 * entries sorted by name as containerd writes them. Blobs stream from the
 * content store and are re-hashed on the way out. Index entries whose content
 * is absent (platforms never pulled) are left out of the walk.
 */
import { createHash } from "node:crypto";
import type { Ctx } from "@sandboxd/core";
import { dataLoss, invalidArgument, isNotFound } from "@sandboxd/errdefs";
import type { ContentStore } from "../content/types.js";
import {
  isIndexType,
  isManifestType,
  type Descriptor,
  type Index,
  type Manifest,
} from "../distribution/media-types.js";
import { defaultPlatform, type Platform } from "../distribution/platforms.js";
import { parseReference } from "../distribution/reference.js";
import { selectManifest } from "../distribution/select.js";
import { annotationImageName, annotationRefName, ociRefName } from "./import.js";
import { tarEnd, tarEntry, tarFileHeader, tarPadding } from "./tarwriter.js";

export interface ExportImage {
  readonly name: string;
  readonly target: Descriptor;
}

export interface ExportOptions {
  /** The platform of manifest.json's entries for multi-platform images (default the host's). */
  readonly platform?: Platform;
  /** Leave out docker's manifest.json. */
  readonly skipDockerManifest?: boolean;
}

/** containerd's familiarizeReference: docker.io/library/x:tag → x:tag. */
export function familiarName(name: string): string {
  const r = parseReference(name);
  let path = r.path;
  let prefix = `${r.domain}/`;
  if (r.domain === "docker.io") {
    prefix = "";
    if (path.startsWith("library/") && path.split("/").length === 2) path = path.slice(8);
  }
  return `${prefix}${path}${r.tag !== undefined ? `:${r.tag}` : ""}${r.digest !== undefined ? `@${r.digest}` : ""}`;
}

async function readAll(ctx: Ctx, store: ContentStore, digest: string): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of store.read(ctx, digest)) parts.push(c);
  return Buffer.concat(parts);
}

function parseJson<T>(data: Buffer, what: string): T {
  try {
    return JSON.parse(data.toString("utf8")) as T;
  } catch {
    throw invalidArgument(`${what} is not valid JSON`);
  }
}

/** Plans the archive (walks every image), then streams it. */
export async function exportArchive(
  ctx: Ctx,
  store: ContentStore,
  images: readonly ExportImage[],
  options: ExportOptions = {},
): Promise<AsyncIterable<Buffer>> {
  if (images.length === 0) throw invalidArgument("nothing to export: no image named");
  const blobs = new Map<string, Descriptor>();
  const walk = async (desc: Descriptor, optional: boolean): Promise<boolean> => {
    if (blobs.has(desc.digest)) return true;
    let size: number;
    try {
      size = (await store.info(ctx, desc.digest)).size;
    } catch (err) {
      if (optional && isNotFound(err)) return false;
      throw err;
    }
    if (size !== desc.size) {
      throw dataLoss(
        `${desc.digest} has ${size} bytes in the store, its descriptor says ${desc.size}`,
      );
    }
    blobs.set(desc.digest, desc);
    if (isIndexType(desc.mediaType)) {
      const index = parseJson<Index>(await readAll(ctx, store, desc.digest), desc.digest);
      for (const m of index.manifests ?? []) await walk(m, true);
    } else if (isManifestType(desc.mediaType)) {
      const m = parseJson<Manifest>(await readAll(ctx, store, desc.digest), desc.digest);
      await walk(m.config, false);
      for (const l of m.layers ?? []) await walk(l, false);
    }
    return true;
  };
  const entries: Descriptor[] = [];
  // Manifest digest → its config, layers and names, for manifest.json.
  const docker = new Map<string, { manifest: Manifest; names: string[] }>();
  for (const image of images) {
    await walk(image.target, false);
    entries.push({
      ...image.target,
      annotations: {
        ...image.target.annotations,
        [annotationImageName]: image.name,
        [annotationRefName]: ociRefName(image.name),
      },
    });
    if (options.skipDockerManifest) continue;
    let manifestDesc: Descriptor | undefined = image.target;
    if (isIndexType(image.target.mediaType)) {
      const index = parseJson<Index>(await readAll(ctx, store, image.target.digest), "index");
      const present = (index.manifests ?? []).filter((m) => blobs.has(m.digest));
      try {
        manifestDesc = selectManifest(
          { ...index, manifests: present },
          options.platform ?? defaultPlatform(),
          image.name,
        );
      } catch {
        manifestDesc = undefined;
      }
    }
    if (!manifestDesc || !isManifestType(manifestDesc.mediaType)) continue;
    const known = docker.get(manifestDesc.digest);
    const manifest =
      known?.manifest ??
      parseJson<Manifest>(await readAll(ctx, store, manifestDesc.digest), "manifest");
    const names = known?.names ?? [];
    names.push(familiarName(image.name));
    docker.set(manifestDesc.digest, { manifest, names });
  }
  return stream(ctx, store, blobs, entries, docker);
}

const blobPath = (digest: string): string => `blobs/sha256/${digest.slice("sha256:".length)}`;

async function* stream(
  ctx: Ctx,
  store: ContentStore,
  blobs: ReadonlyMap<string, Descriptor>,
  entries: readonly Descriptor[],
  docker: ReadonlyMap<string, { manifest: Manifest; names: string[] }>,
): AsyncIterable<Buffer> {
  yield* tarEntry({ name: "blobs/", type: "dir", mode: 0o755 });
  yield* tarEntry({ name: "blobs/sha256/", type: "dir", mode: 0o755 });
  const sorted = [...blobs.values()].sort((a, b) => (a.digest < b.digest ? -1 : 1));
  for (const desc of sorted) {
    yield tarFileHeader(blobPath(desc.digest), desc.size);
    const hash = createHash("sha256");
    let n = 0;
    for await (const chunk of store.read(ctx, desc.digest)) {
      hash.update(chunk);
      n += chunk.length;
      yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
    const got = `sha256:${hash.digest("hex")}`;
    if (got !== desc.digest || n !== desc.size) {
      throw dataLoss(
        `content ${desc.digest} read back as ${got} (${n} bytes): the store is corrupt`,
      );
    }
    yield tarPadding(desc.size);
  }
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: entries,
  };
  yield* tarEntry({ name: "index.json", data: JSON.stringify(index), mode: 0o644 });
  if (docker.size > 0) {
    const list = [...docker.values()].map(({ manifest, names }) => ({
      Config: blobPath(manifest.config.digest),
      RepoTags: names,
      Layers: manifest.layers.map((l) => blobPath(l.digest)),
    }));
    yield* tarEntry({ name: "manifest.json", data: JSON.stringify(list), mode: 0o644 });
  }
  yield* tarEntry({
    name: "oci-layout",
    data: JSON.stringify({ imageLayoutVersion: "1.0.0" }),
    mode: 0o444,
  });
  yield tarEnd;
}
