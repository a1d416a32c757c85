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
