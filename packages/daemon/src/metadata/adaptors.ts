/**
 * Filter adaptors for stored objects, as containerd's metadata/adaptors.go:
 * a field is present only when it is non-empty, `labels.KEY` looks up one
 * label (present even when its value is empty).
 */
import type { Adaptor } from "@sandboxd/core";

export function adaptObject(
  fields: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): Adaptor {
  return (path) => {
    if (path.length === 0) return undefined;
    if (path[0] === "labels") {
      if (path.length < 2) return undefined;
      const key = path.slice(1).join(".");
      return Object.hasOwn(labels, key) ? labels[key] : undefined;
    }
    const value = fields[path.join(".")];
    return value === undefined || value === "" ? undefined : value;
  };
}
