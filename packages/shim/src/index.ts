export { parseAddress, socketPathFor, type Endpoint, type Protocol } from "./address.js";
export { resolveShimBinary, shimBinaryName, type ResolveOptions } from "./binary.js";
export {
  deleteArgs,
  parseShimFlags,
  startArgs,
  type ShimFlags,
  type StartArgsOptions,
} from "./flags.js";
