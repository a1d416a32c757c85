export { Authorizer, parseChallenges } from "./auth.js";
export type { Challenge, Credentials, CredentialsProvider } from "./auth.js";
export { RegistryClient, defaultHosts, isLocalhost, isTransient } from "./client.js";
export type {
  Capability,
  HostsResolver,
  RegistryClientOptions,
  RegistryEndpoint,
  Resolved,
} from "./client.js";
export { BlobFetcher, Limiter, ingestRef } from "./fetcher.js";
export type { BlobProgress, BlobState, FetcherOptions, ProgressFn } from "./fetcher.js";
export type { TlsOptions } from "./http.js";
export {
  MediaType,
  isIndexType,
  isManifestType,
  layerCompression,
  manifestAccept,
  maxManifestSize,
} from "./media-types.js";
export type { Descriptor, Index, Manifest } from "./media-types.js";
export {
  defaultPlatform,
  formatPlatform,
  normalizePlatform,
  parsePlatform,
  platformRank,
} from "./platforms.js";
export type { Platform } from "./platforms.js";
export { formatReference, objectOf, parseReference } from "./reference.js";
export type { Reference } from "./reference.js";
export { selectManifest } from "./select.js";
export {
  chainCredentials,
  credentialsKey,
  dockerConfigCredentials,
  parseDockerConfig,
  staticCredentials,
} from "./credentials.js";
