export {
  endpointAddress,
  maxSocketPathBytes,
  parseAddress,
  socketPathFor,
  unixAddress,
  type Endpoint,
  type Protocol,
} from "./address.js";
export {
  ownExecutableDir,
  resolveShimBinary,
  shimBinaryName,
  type ResolveOptions,
} from "./binary.js";
export {
  deleteArgs,
  parseShimFlags,
  startArgs,
  type ShimFlags,
  type StartArgsOptions,
} from "./flags.js";
