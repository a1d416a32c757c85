/**
 * Image archive import, as containerd's archive.ImportIndex + client.Import:
 * an OCI layout tar (`oci-layout`, `index.json`, `blobs/sha256/…`) or a
 * `docker save` tar (`manifest.json` with Config/RepoTags/Layers, turned into
 * Docker schema2 manifests). The archive streams into ingests; then every
 * descriptor reachable from the index is checked (present, size as described)
 * before anything is committed, with containerd's GC labels on indexes and
 * manifests. Returns the images to record; naming follows containerd:
 * `io.containerd.image.name`, else `org.opencontainers.image.ref.name` (a bare
 * tag joined to the base name).
 */
import { createHash } from "node:crypto";
import type { Ctx } from "@sandboxd/core";
import { invalidArgument, notFound } from "@sandboxd/errdefs";
import type { ContentStore } from "../content/types.js";
import {
  MediaType,
  isIndexType,
  isManifestType,
  type Descriptor,
  type Index,
  type Manifest,
} from "../distribution/media-types.js";
import { normalizePlatform } from "../distribution/platforms.js";
import { formatReference, parseReference } from "../distribution/reference.js";
import { writeBlob } from "../pull/pull.js";
import { ArchiveIngest } from "./ingest-tar.js";

export const annotationImageName = "io.containerd.image.name";
export const annotationRefName = "org.opencontainers.image.ref.name";
const gcRefContent = "containerd.io/gc.ref.content";

export interface ImportOptions {
  /** Prefix for entries named only by a tag (ctr's --base-name; default `import-<date>`). */
  readonly baseName?: string;
}

export interface ImportedImage {
  readonly name: string;
  /** The index entry: a manifest or an index, with its annotations. */
  readonly target: Descriptor;
}

export interface ImportResult {
  readonly images: readonly ImportedImage[];
  /** Index entries the archive names nothing for (no record is made). */
  readonly unnamed: readonly Descriptor[];
  /** Blobs committed by this import. */
  readonly committed: number;
}

/** docker save's manifest.json. */
interface DockerEntry {
  Config?: string;
  RepoTags?: string[] | null;
  Layers?: string[];
}

const sha256Of = (b: Uint8Array): string =>
  `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** Array.isArray without narrowing (which would turn typed lists into any[]). */
const isList = (v: unknown): boolean => Array.isArray(v);

function parseJson<T>(data: Buffer, what: string): T {
  try {
    return JSON.parse(data.toString("utf8")) as T;
  } catch {
    throw invalidArgument(`${what} is not valid JSON`);
  }
}

/** containerd's reference.ParseDockerRef(...).String(): docker.io/library/x:latest. */
export function normalizeName(name: string): string {
  return formatReference(parseReference(name));
}

/** The tag of a full name (OCI's ref.name), or the name itself when it has none. */
export function ociRefName(name: string): string {
  try {
    const r = parseReference(name);
    if (r.digest === undefined && r.tag !== undefined) return r.tag;
  } catch {
    // Not a reference: kept as it is.
  }
  return name;
}

function imageName(
  annotations: Readonly<Record<string, string>> | undefined,
  base: string,
): string {
  const name = annotations?.[annotationImageName];
  if (name) return name;
  const ref = annotations?.[annotationRefName];
  if (!ref) return "";
  return /[/:@]/.test(ref) ? ref : `${base}:${ref}`;
}

export async function importArchive(
  ctx: Ctx,
  store: ContentStore,
  source: AsyncIterable<Uint8Array>,
  options: ImportOptions = {},
): Promise<ImportResult> {
  const ingest = new ArchiveIngest(ctx, store);
  await ingest.read(source);
  try {
    const generated = new Map<string, { desc: Descriptor; data: Buffer }>();
    const roots = ingest.layout.has("oci-layout")
      ? ociRoots(ingest)
      : await dockerRoots(ingest, generated);
    const labels = new Map<string, Record<string, string>>();
    const walk = new Walker(ingest, generated, labels);
    const kept: Descriptor[] = [];
    for (const root of roots) if (await walk.visit(root, "index.json", true)) kept.push(root);
    if (kept.length === 0) throw invalidArgument("archive holds no complete image");
    const committed = ingest.committing.length;
    await ingest.commitAll(labels);
    for (const { desc, data } of generated.values()) {
      await writeBlob(ctx, store, desc, data, labels.get(desc.digest) ?? {});
    }
    for (const [digest, l] of labels) {
      if (generated.has(digest) || !ingest.presentDigests.has(digest)) continue;
      await store.update(
        ctx,
        { digest, labels: l },
        Object.keys(l).map((k) => `labels.${k}`),
      );
    }
    const base = options.baseName ?? `import-${new Date().toISOString().slice(0, 10)}`;
    const images: ImportedImage[] = [];
    const unnamed: Descriptor[] = [];
    for (const desc of kept) {
      const name = imageName(desc.annotations, base);
      if (name) images.push({ name, target: desc });
      else unnamed.push(desc);
    }
    return { images, unnamed, committed: committed + generated.size };
  } catch (err) {
    await ingest.abortAll();
    throw err;
  }
}

function ociRoots(ingest: ArchiveIngest): readonly Descriptor[] {
  const layout = parseJson<{ imageLayoutVersion?: string }>(
    ingest.layout.get("oci-layout") as Buffer,
    "oci-layout",
  );
  if (layout.imageLayoutVersion !== "1.0.0") {
    throw invalidArgument(
      `unsupported OCI layout version ${JSON.stringify(layout.imageLayoutVersion)} (want "1.0.0")`,
    );
  }
  const data = ingest.layout.get("index.json");
  if (!data) throw invalidArgument("OCI layout archive has no index.json");
  const index = parseJson<Index>(data, "index.json");
  if (!isList(index.manifests)) throw invalidArgument("index.json has no manifests list");
  return index.manifests;
}

async function dockerRoots(
  ingest: ArchiveIngest,
  generated: Map<string, { desc: Descriptor; data: Buffer }>,
): Promise<readonly Descriptor[]> {
  const data = ingest.layout.get("manifest.json");
  if (!data) {
    throw invalidArgument(
      "not an image archive: neither an OCI layout (oci-layout, index.json) nor a docker archive (manifest.json)",
    );
  }
  const entries = parseJson<DockerEntry[]>(data, "manifest.json");
  if (!Array.isArray(entries)) throw invalidArgument("manifest.json is not a list");
  const file = (name: string, what: string) => {
    const path = ingest.symlinks.get(name) ?? name;
    const blob = ingest.blobs.get(path);
    if (!blob) throw notFound(`${what} ${JSON.stringify(name)} is not in the archive`);
    return blob;
  };
  const roots: Descriptor[] = [];
  for (const entry of entries) {
    if (!entry.Config || !Array.isArray(entry.Layers)) {
      throw invalidArgument("manifest.json entry without Config or Layers");
    }
    const cfg = file(entry.Config, "image config");
    const cfgJson = parseJson<{ os?: string; architecture?: string; variant?: string }>(
      await ingest.bytes(cfg.digest, "image config"),
      `image config ${entry.Config}`,
    );
    const layers: Descriptor[] = [];
    for (const l of entry.Layers) {
      const blob = file(l, "layer");
      const head = await ingest.head(blob.digest);
      const mediaType =
        head[0] === 0x1f && head[1] === 0x8b
          ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
          : head.readUInt32BE(0) === 0x28b52ffd
            ? "application/vnd.oci.image.layer.v1.tar+zstd"
            : "application/vnd.docker.image.rootfs.diff.tar";
      layers.push({ mediaType, digest: blob.digest, size: blob.size });
    }
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.dockerManifest,
        config: { mediaType: MediaType.dockerConfig, digest: cfg.digest, size: cfg.size },
        layers,
      }),
    );
    const desc: Descriptor = {
      mediaType: MediaType.dockerManifest,
      digest: sha256Of(manifest),
      size: manifest.length,
    };
    generated.set(desc.digest, { desc, data: manifest });
    const platform =
      cfgJson.os && cfgJson.architecture
        ? normalizePlatform({
            os: cfgJson.os,
            architecture: cfgJson.architecture,
            ...(cfgJson.variant ? { variant: cfgJson.variant } : {}),
          })
        : undefined;
    const withPlatform = platform ? { ...desc, platform } : desc;
    const tags = entry.RepoTags ?? [];
    if (tags.length === 0) roots.push(withPlatform);
    for (const tag of tags) {
      const name = normalizeName(tag);
      roots.push({
        ...withPlatform,
        annotations: { [annotationImageName]: name, [annotationRefName]: ociRefName(name) },
      });
    }
  }
  return roots;
}

/** Checks a descriptor tree is complete and collects containerd's GC labels for it. */
class Walker {
  readonly ingest: ArchiveIngest;
  readonly generated: ReadonlyMap<string, { desc: Descriptor; data: Buffer }>;
  readonly labels: Map<string, Record<string, string>>;

  constructor(
    ingest: ArchiveIngest,
    generated: ReadonlyMap<string, { desc: Descriptor; data: Buffer }>,
    labels: Map<string, Record<string, string>>,
  ) {
    this.ingest = ingest;
    this.generated = generated;
    this.labels = labels;
  }

  /** False when an index entry is absent (another platform left out of the archive). */
  async visit(desc: Descriptor, parent: string, optional = false): Promise<boolean> {
    const gen = this.generated.get(desc.digest);
    const size = gen ? gen.desc.size : await this.ingest.sizeOf(desc.digest);
    if (size === undefined) {
      if (optional) return false;
      throw notFound(
        `${parent} references ${desc.mediaType} ${desc.digest}, which is neither in the archive nor in the content store`,
      );
    }
    if (size !== desc.size) {
      throw invalidArgument(
        `${parent} says ${desc.digest} has ${desc.size} bytes, the archive has ${size}`,
      );
    }
    if (!isIndexType(desc.mediaType) && !isManifestType(desc.mediaType)) return true;
    const data = gen ? gen.data : await this.ingest.bytes(desc.digest, desc.mediaType);
    const own: Record<string, string> = {};
    const what = `${isIndexType(desc.mediaType) ? "index" : "manifest"} ${desc.digest}`;
    if (isIndexType(desc.mediaType)) {
      const index = parseJson<Index>(data, what);
      let present = 0;
      for (const [i, m] of (index.manifests ?? []).entries()) {
        if (!(await this.visit(m, what, true))) continue;
        own[`${gcRefContent}.m.${i}`] = m.digest;
        present++;
      }
      if (present === 0) throw notFound(`${what}: none of its manifests is in the archive`);
    } else {
      const manifest = parseJson<Manifest>(data, what);
      if (!manifest.config || !isList(manifest.layers)) {
        throw invalidArgument(`${what} has no config or layers`);
      }
      await this.visit(manifest.config, what);
      own[`${gcRefContent}.config`] = manifest.config.digest;
      for (const [i, l] of manifest.layers.entries()) {
        await this.visit(l, what);
        own[`${gcRefContent}.l.${i}`] = l.digest;
      }
    }
    this.labels.set(desc.digest, { ...this.labels.get(desc.digest), ...own });
    return true;
  }
}
