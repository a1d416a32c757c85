/**
 * The part of a field-path update that containers and sandboxes share: their
 * `labels` and `extensions` maps, replaced whole (`labels`) or key by key
 * (`labels.KEY`, containerd's applyMapKey), and their `spec`.
 */
import { applyMapKey, parseFieldPaths, type FieldPath } from "@sandboxd/core";
import type { StoredRecord } from "./record-table.js";

type Updatable = Pick<StoredRecord, "labels" | "extensions" | "spec">;

/**
 * Parses update paths: the shared `labels`, `extensions` (and their keys) and
 * `spec`, plus the record's own `fields`; InvalidArgument by `describe` for
 * any other.
 */
export function parseUpdatePaths(
  paths: readonly string[],
  fields: readonly string[],
  describe: (path: string) => string,
): FieldPath[] {
  const rules = { fields: ["spec", ...fields], maps: ["labels", "extensions"] };
  return parseFieldPaths(paths, rules, describe);
}

/**
 * A copy of `current` with `paths` of `given` applied: the shared fields
 * here, any other field by `applyField` on the copy. The stored record's maps
 * are never changed in place.
 */
export function applyPaths<T extends Updatable>(
  current: T,
  given: Updatable,
  paths: readonly FieldPath[],
  applyField: (next: T, field: string) => void,
): T {
  const next: T = {
    ...current,
    labels: { ...current.labels },
    extensions: { ...current.extensions },
  };
  for (const path of paths) {
    if (path.kind === "key") {
      if (path.field === "labels") applyMapKey(next.labels, given.labels, path.key);
      else applyMapKey(next.extensions, given.extensions, path.key);
    } else if (path.field === "labels") next.labels = { ...given.labels };
    else if (path.field === "extensions") next.extensions = { ...given.extensions };
    else if (path.field === "spec") next.spec = given.spec;
    else applyField(next, path.field);
  }
  return next;
}
