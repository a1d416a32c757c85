// "@sandboxd/client/testing": test helpers for the SDK and the CLI (not part of the SDK).
export { startFakeDaemon } from "./fake-daemon.js";
export type { FakeDaemon } from "./fake-daemon.js";
export { readmeExamples, runExample } from "./readme-examples.js";
export type { Example } from "./readme-examples.js";
