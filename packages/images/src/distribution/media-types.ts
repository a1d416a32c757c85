/** The media types a puller follows, and the JSON shapes of manifests and indexes. */
export const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerSchema1: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

/** containerd's resolver Accept list, in its order. */
export const manifestAccept = [
  MediaType.dockerManifest,
  MediaType.dockerList,
  MediaType.ociManifest,
  MediaType.ociIndex,
  "*/*",
].join(", ");

/** containerd's remotes.MaxManifestSize. */
export const maxManifestSize = 4 * 1048 * 1048;

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly urls?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: {
    readonly os: string;
    readonly architecture: string;
    readonly variant?: string;
  };
}

export interface Manifest {
  readonly schemaVersion: number;
  readonly mediaType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface Index {
  readonly schemaVersion: number;
  readonly mediaType?: string;
  readonly manifests: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

export function isIndexType(mediaType: string): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerList;
}

export function isManifestType(mediaType: string): boolean {
  return mediaType === MediaType.ociManifest || mediaType === MediaType.dockerManifest;
}

/** Layer media types whose compression is known: tar, gzip, zstd (OCI, Docker, foreign). */
export function layerCompression(mediaType: string): "none" | "gzip" | "zstd" | undefined {
  if (/\.tar(?:\.foreign)?$|layer\.v1\.tar$|nondistributable\.v1\.tar$/.test(mediaType))
    return "none";
  if (/(?:\+|\.)gzip$/.test(mediaType)) return "gzip";
  if (/(?:\+|\.)zstd$/.test(mediaType)) return "zstd";
  return undefined;
}
