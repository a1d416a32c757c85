export * from "./errors.js";
export { Code, codeOf, fromStatus, toStatus, type StatusLike } from "./status.js";
