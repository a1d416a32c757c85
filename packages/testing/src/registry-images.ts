/**
 * Test images built with no network: busybox-static plus hand-written tar and JSON, in
 * OCI or Docker schema2 form, single-platform or as a multi-platform index, with gzip,
 * zstd or uncompressed layers, and the hostile layers the unpack tests feed in.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { tar, type TarEntry } from "./registry-tar.js";

export const mediaTypes = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

export type Compression = "gzip" | "zstd" | "none";
export type ImageFormat = "oci" | "docker";

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export interface Blob {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly data: Buffer;
}

export interface Layer extends Blob {
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids entry). */
  readonly diffID: string;
}

export interface ImageConfigSpec {
  readonly Entrypoint?: string[];
  readonly Cmd?: string[];
  readonly Env?: string[];
  readonly WorkingDir?: string;
  readonly User?: string;
}

export interface LayerSpec {
  readonly entries: readonly TarEntry[];
  readonly compression?: Compression;
}

export interface ImageSpec {
  readonly layers: readonly LayerSpec[];
  readonly format?: ImageFormat;
  readonly platform?: Platform;
  readonly config?: ImageConfigSpec;
}

export interface BuiltImage {
  readonly manifest: Blob;
  readonly config: Blob;
  readonly layers: readonly Layer[];
  readonly platform: Platform;
}

export interface BuiltIndex {
  readonly index: Blob;
  readonly images: readonly BuiltImage[];
}

export function sha256(data: Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export function blob(mediaType: string, data: Buffer): Blob {
  return { mediaType, digest: sha256(data), size: data.length, data };
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function layerMediaType(format: ImageFormat, compression: Compression): string {
  if (format === "docker" && compression === "gzip") return mediaTypes.dockerLayerGzip;
  if (format === "docker" && compression === "none") return mediaTypes.dockerLayer;
  if (compression === "gzip") return mediaTypes.ociLayerGzip;
  if (compression === "zstd") return mediaTypes.ociLayerZstd;
  return mediaTypes.ociLayer;
}

export function buildLayer(spec: LayerSpec, format: ImageFormat = "oci"): Layer {
  const raw = tar(spec.entries);
  const compression = spec.compression ?? "gzip";
  const data =
    compression === "gzip" ? gzipSync(raw) : compression === "zstd" ? zstdCompressSync(raw) : raw;
  return { ...blob(layerMediaType(format, compression), data), diffID: sha256(raw) };
}

export const hostPlatform: Platform = {
  os: "linux",
  architecture: process.arch === "x64" ? "amd64" : process.arch,
};

export function buildImage(spec: ImageSpec): BuiltImage {
  const format = spec.format ?? "oci";
  const platform = spec.platform ?? hostPlatform;
  const layers = spec.layers.map((l) => buildLayer(l, format));
  const config = blob(
    format === "oci" ? mediaTypes.ociConfig : mediaTypes.dockerConfig,
    json({
      created: "1970-01-01T00:00:00Z",
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: {
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        ...spec.config,
      },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffID) },
      history: layers.map(() => ({ created: "1970-01-01T00:00:00Z", created_by: "sandboxd test" })),
    }),
  );
  const descriptor = (b: Blob): object => ({
    mediaType: b.mediaType,
    digest: b.digest,
    size: b.size,
  });
  const manifestType = format === "oci" ? mediaTypes.ociManifest : mediaTypes.dockerManifest;
  const manifest = blob(
    manifestType,
    json({
      schemaVersion: 2,
      mediaType: manifestType,
      config: descriptor(config),
      layers: layers.map(descriptor),
    }),
  );
  return { manifest, config, layers, platform };
}

/** An index (OCI) or manifest list (Docker) over `images`, one entry per platform. */
export function buildIndex(images: readonly BuiltImage[], format: ImageFormat = "oci"): BuiltIndex {
  const mediaType = format === "oci" ? mediaTypes.ociIndex : mediaTypes.dockerList;
  const index = blob(
    mediaType,
    json({
      schemaVersion: 2,
      mediaType,
      manifests: images.map((i) => ({
        mediaType: i.manifest.mediaType,
        digest: i.manifest.digest,
        size: i.manifest.size,
        platform: i.platform,
      })),
    }),
  );
  return { index, images };
}

const applets = [
  "sh",
  "true",
  "false",
  "echo",
  "cat",
  "ls",
  "sleep",
  "httpd",
  "env",
  "id",
  "pwd",
  "test",
  "mkdir",
  "rm",
  "touch",
  "wc",
  "stat",
  "readlink",
  "head",
  "printf",
  "hostname",
  "whoami",
];

let busybox: Buffer | undefined;

/** Entries of a busybox root: /bin/busybox, applet symlinks, /etc/passwd and /etc/group. */
export function busyboxEntries(): TarEntry[] {
  busybox ??= readFileSync("/bin/busybox");
  return [
    { name: "bin/", type: "dir" },
    { name: "bin/busybox", mode: 0o755, data: busybox },
    ...applets.map((a): TarEntry => ({ name: `bin/${a}`, type: "symlink", linkname: "busybox" })),
    { name: "etc/", type: "dir" },
    {
      name: "etc/passwd",
      data: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    },
    { name: "etc/group", data: "root:x:0:\nnogroup:x:65534:\n" },
    { name: "root/", type: "dir", mode: 0o700 },
    { name: "tmp/", type: "dir", mode: 0o1777 },
  ];
}

/** busybox plus a second layer with a whiteout and an opaque directory over the first. */
export function multiLayerSpec(format: ImageFormat = "oci"): ImageSpec {
  return {
    format,
    config: { Cmd: ["/bin/sh"], Env: ["PATH=/bin", "GREETING=hello"], WorkingDir: "/srv" },
    layers: [
      {
        compression: "gzip",
        entries: [
          ...busyboxEntries(),
          { name: "etc/hello", data: "hello\n" },
          { name: "dir/", type: "dir" },
          { name: "dir/a", data: "a\n" },
          { name: "dir/b", data: "b\n" },
        ],
      },
      {
        compression: format === "oci" ? "zstd" : "none",
        entries: [
          { name: "etc/.wh.hello" },
          { name: "dir/", type: "dir" },
          { name: "dir/.wh..wh..opq" },
          { name: "dir/c", data: "c\n" },
          { name: "srv/", type: "dir" },
        ],
      },
    ],
  };
}

export type HostileKind =
  "dotdot" | "absolute" | "symlink-escape" | "symlink-escape-layered" | "hardlink-escape";

/**
 * A one-layer image whose layer tries to write `marker` outside its root. `outside` is an
 * absolute directory the test watches (it must stay free of the marker).
 */
export function hostileSpec(kind: HostileKind, outside: string, marker = "pwned"): ImageSpec {
  const rel = `../../../../../../../../..${outside}`;
  if (kind === "symlink-escape-layered") {
    return {
      layers: [
        { entries: [{ name: "link", type: "symlink", linkname: outside }] },
        { entries: [{ name: `link/${marker}`, data: "escaped\n" }] },
      ],
    };
  }
  const entries: Record<Exclude<HostileKind, "symlink-escape-layered">, TarEntry[]> = {
    dotdot: [{ name: `${rel}/${marker}`, data: "escaped\n" }],
    absolute: [{ name: `${outside}/${marker}`, data: "escaped\n" }],
    "symlink-escape": [
      { name: "link", type: "symlink", linkname: outside },
      { name: `link/${marker}`, data: "escaped\n" },
    ],
    "hardlink-escape": [
      { name: `${marker}`, type: "hardlink", linkname: `${rel}/${marker}-target` },
    ],
  };
  return { layers: [{ compression: "gzip", entries: entries[kind] }] };
}
