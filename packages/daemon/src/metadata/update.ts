/**
 * The part of a field-path update that containers and sandboxes share: their
 * `labels` and `extensions` maps, replaced whole (`labels`) or key by key
 * (`labels.KEY`, containerd's applyMapKey).
 */
import { applyMapKey, type FieldPath } from "@sandboxd/core";
import type { Any } from "@bufbuild/protobuf/wkt";

export interface LabelledRecord {
  labels: Record<string, string>;
  extensions: Record<string, Any>;
}

/** Applies a labels/extensions path from `given` to `next`; false when the path names another field. */
export function applyMapPath(
  next: LabelledRecord,
  given: LabelledRecord,
  path: FieldPath,
): boolean {
  if (path.kind === "key") {
    if (path.field === "labels") applyMapKey(next.labels, given.labels, path.key);
    else applyMapKey(next.extensions, given.extensions, path.key);
    return true;
  }
  if (path.field === "labels") next.labels = { ...given.labels };
  else if (path.field === "extensions") next.extensions = { ...given.extensions };
  else return false;
  return true;
}
