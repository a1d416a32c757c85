export {};
// Adapters other components embed or test in process.
export { pullEvents, pullService, Pull } from "./services/pull/service.js";
