/**
 * containerd's label rule (pkg/labels): a key and its value together take at
 * most 4096 bytes. Applied to namespaces, containers, leases and sandboxes.
 */
import { invalidArgument, wrap } from "@sandboxd/errdefs";

export const maxLabelBytes = 4096;

/** Throws InvalidArgument for a label that is too long, naming the key like containerd. */
export function validateLabel(key: string, value: string): void {
  if (Buffer.byteLength(key) + Buffer.byteLength(value) > maxLabelBytes) {
    const shown = key.length > 10 ? key.slice(0, 10) : key;
    throw invalidArgument(
      `label key and value greater than maximum size (${maxLabelBytes} bytes), key: ${shown}`,
    );
  }
}

/** Validates every label; `what` prefixes the error (`containers.Labels: ...`). */
export function validateLabels(labels: Readonly<Record<string, string>>, what?: string): void {
  for (const [key, value] of Object.entries(labels)) {
    try {
      validateLabel(key, value);
    } catch (err) {
      if (what === undefined) throw err;
      throw wrap(err, what);
    }
  }
}
