export { Puller, labels as pullLabels, writeBlob } from "./pull.js";
export type { PullerDeps } from "./pull.js";
export type {
  ImageConfig,
  PullRecord,
  ImageRecords,
  PullEvent,
  PullOptions,
  PulledImage,
} from "./types.js";
export { PullService } from "./service.js";
export type { PullRequest, PullServiceOptions } from "./service.js";
export { unpackImage, uncompressedLabel } from "./unpack-image.js";
export type { UnpackDeps } from "./unpack-image.js";
export { storeRecords } from "./records.js";
