export { Puller, labels as pullLabels, writeBlob } from "./pull.js";
export type { PullerDeps } from "./pull.js";
export type {
  ImageConfig,
  ImageRecord,
  ImageRecords,
  PullEvent,
  PullOptions,
  PulledImage,
} from "./types.js";
