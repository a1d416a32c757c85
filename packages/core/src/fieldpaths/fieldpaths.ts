/**
 * Update masks (google.protobuf.FieldMask paths) as containerd's stores read
 * them: a path is either a whole field (`labels`, `spec`) or one key of a map
 * field (`labels.KEY`, `extensions.KEY`; the key is everything after the
 * first dot). Unknown paths are InvalidArgument, before anything is written.
 */
import { invalidArgument } from "@sandboxd/errdefs";

export type FieldPath =
  | { readonly kind: "field"; readonly field: string }
  | { readonly kind: "key"; readonly field: string; readonly key: string };

export interface FieldPathRules {
  /** Fields that may be replaced whole. */
  readonly fields: readonly string[];
  /** Map fields whose single keys may be set or removed (`field.KEY`); also replaceable whole. */
  readonly maps: readonly string[];
}

/**
 * Parses update paths against `rules`. `describe(path)` builds the error for a
 * path that is not allowed (default: `cannot update "PATH" field`).
 */
export function parseFieldPaths(
  paths: readonly string[],
  rules: FieldPathRules,
  describe: (path: string) => string = (path) => `cannot update ${JSON.stringify(path)} field`,
): FieldPath[] {
  return paths.map((path) => {
    const dot = path.indexOf(".");
    if (dot > 0) {
      const field = path.slice(0, dot);
      if (rules.maps.includes(field)) return { kind: "key", field, key: path.slice(dot + 1) };
    } else if (rules.fields.includes(path) || rules.maps.includes(path)) {
      return { kind: "field", field: path };
    }
    throw invalidArgument(describe(path));
  });
}

/**
 * Applies one map-key path: copies `from[key]` into `to`, or deletes the key
 * when `from` does not have it (containerd: setting a label to "" removes it
 * for namespaces; for containers the key is copied as is).
 */
export function applyMapKey<V>(
  to: Record<string, V>,
  from: Readonly<Record<string, V>>,
  key: string,
): void {
  if (Object.hasOwn(from, key)) to[key] = from[key] as V;
  else delete to[key];
}
