export {
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  KNOWN_CAPABILITIES,
  applyCapabilities,
  capabilitiesOfMask,
  capabilityName,
  currentCapabilities,
} from "./defaults.js";
export { defaultSeccompProfile, type ProfileTarget } from "./seccomp-profile.js";
export { loadSeccompProfile, parseSeccompProfile, runtimeDefaultSeccomp } from "./seccomp.js";
export { parseGroup, parsePasswd, resolveUser, type ResolvedUser } from "./user.js";
export type { LinuxSeccomp, LinuxSeccompArg, LinuxSyscall } from "./types.js";
