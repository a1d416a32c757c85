// @sandboxd/api's helpers: the side-effect-free names and pack helpers
// (./names.js, also `@sandboxd/api/names`) and the registry of every message
// (./registry.js, also `@sandboxd/api/registry`). Loading this index builds
// the registry. The generated modules themselves are imported by path, e.g.
// "@sandboxd/api/services/tasks/v1/tasks_pb".
export * from "./names.js";
export * from "./registry.js";
