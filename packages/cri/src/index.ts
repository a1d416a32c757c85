export { Cri, type CriOptions } from "./plugin.js";
export type { Backend, ImageEntry, ImagesPort, Mount as CriMount, PullAuth } from "./backend.js";
export { parseCriConfig, criNamespace, type CriConfig, type RuntimeHandler } from "./config.js";
export { formatRecords, rfc3339Nano } from "./logs/cri-log.js";
