// "@sandboxd/client/testing": test helpers for the SDK and the CLI (not part of the SDK).
export { readmeExamples, runExample } from "./readme-examples.js";
export type { Example, RunExampleOptions } from "./readme-examples.js";
