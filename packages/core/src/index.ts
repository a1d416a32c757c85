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
