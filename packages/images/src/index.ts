export type {
  ContentInfo,
  ContentStore,
  ContentWriter,
  IngestStatus,
  WriterOptions,
} from "./content/types.js";
export * from "./distribution/index.js";
export * from "./hosts/index.js";
export * from "./pull/index.js";
export { ensureImagesSchema, openImagesDb, type ImagesDb } from "./db.js";
export { contentDir, LocalContentStore } from "./content/store.js";
export { IngestWriter } from "./content/writer.js";
export { digestHex, emptyDigest, fsError, isDigest } from "./content/digest.js";
export { DirSnapshotter, type Backend } from "./snapshots/snapshotter.js";
export { openSnapshotter, overlaySupported, snapshotterDir } from "./snapshots/open.js";
export {
  Kind as SnapshotKind,
  snapshotRefLabel,
  type Mount,
  type SnapshotInfo,
  type Snapshotter,
  type Usage,
} from "./snapshots/types.js";
export { applyLayer, applyLayerFile, applyTarget, chainIds } from "./unpack/unpack.js";
export { detectCompression, type Compression, type LayerResult } from "./unpack/layer.js";
export { tarArchive, tarEnd, tarEntry, type TarEntry } from "./archive/tarwriter.js";
export { TarParser, type TarHeader, type TarSink } from "./unpack/tar.js";
export { ImageStore, type Descriptor, type ImageRecord } from "./content/imagestore.js";
export {
  GarbageCollector,
  gcExpire,
  gcRefContent,
  gcRefSnapshot,
  gcRoot,
  type GcResult,
  type GcRoots,
} from "./gc/gc.js";
export {
  commitTreeLayer,
  diffSource,
  layerMediaTypes,
  treeLayer,
  type CommittedLayer,
} from "./archive/diff.js";
export { unpackImage, type UnpackResult } from "./unpack/image.js";
export { tarFileHeader, tarPadding } from "./archive/tarwriter.js";
export {
  importArchive,
  normalizeName,
  ociRefName,
  type ImportedImage,
  type ImportOptions,
  type ImportResult,
} from "./archive/import.js";
export {
  exportArchive,
  familiarName,
  type ExportImage,
  type ExportOptions,
} from "./archive/export.js";
export { ArchiveService, type ArchiveServiceDeps, type ImportRequest } from "./archive/service.js";
