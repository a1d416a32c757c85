export {
  type Ctx,
  background,
  detached,
  namespaceRequired,
  remainingMs,
  withLogFields,
  withNamespace,
  withSignal,
  withTimeout,
} from "./context/context.js";
export {
  isValid as isValidIdentifier,
  maxIdentifierLength,
  validate as validateIdentifier,
} from "./identifiers/identifiers.js";
export { createLogger, silentLogger, type LogLevel, type Logger } from "./log/log.js";
export {
  always,
  parseFilter,
  parseFilters,
  recordAdaptor,
  type Adaptor,
  type Filter,
} from "./filters/filters.js";
export { maxLabelBytes, validateLabel, validateLabels } from "./labels/labels.js";
export {
  applyMapKey,
  parseFieldPaths,
  type FieldPath,
  type FieldPathRules,
} from "./fieldpaths/fieldpaths.js";
export { KeyedMutex, abortReason, abortable, mapLimit, sleep } from "./async/async.js";
export { Rollback, withRollback, type Undo } from "./rollback/rollback.js";
export { syncDir, writeFileAtomic, type AtomicWriteOptions } from "./fs/atomic.js";
export {
  MountFlag,
  UnmountFlag,
  mkfifo,
  mountFs,
  bindMount,
  setHostnameIn,
  mountOptions,
  unmount,
  unmountAll,
} from "./sys/libc.js";
export { pinNewNamespaces, type PinnableKind } from "./sys/pin.js";
export {
  CgroupMigrationWarmer,
  ownCgroupProcsFile,
  type CgroupMigrationWarmerOptions,
} from "./sys/cgroup-migration.js";
export {
  commandLine,
  exitText,
  run,
  runChecked,
  type RunOptions,
  type RunResult,
} from "./process/process.js";
export { spawnChild, type Child, type ChildOptions, type Exit } from "./process/child.js";
export {
  callContext,
  grpcCallInfo,
  namespaceHeader,
  ttrpcCallInfo,
  ttrpcNamespaceHeader,
  type CallContextOptions,
  type CallInfo,
} from "./namespaces/namespaces.js";
export { NamespacedMap, namespacedKey } from "./namespaces/nsmap.js";
export * from "./messages.js";
export * from "./oci/index.js";
