export {
  Code,
  fromStatus,
  notImplemented as unimplemented,
  toStatus,
  unavailable,
  type StatusLike,
} from "@sandboxd/errdefs";
