/**
 * Recursive read-only mounts (cri-api Mount.recursive_read_only): runc's
 * `rro` makes every submount read-only too, which only holds if nothing can
 * propagate in later, so the mount must be read-only and private. kubelet
 * validates the same; a runtime must refuse the rest rather than silently
 * mount them writable or shared (critest's "should reject" specs).
 */
import { MountPropagation, type Mount } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { invalidArgument } from "@sandboxd/errdefs";

export function checkRecursiveReadOnly(m: Mount): void {
  if (!m.recursiveReadOnly) return;
  const what = `mount ${JSON.stringify(m.containerPath)}: recursive_read_only`;
  if (!m.readonly) throw invalidArgument(`${what} needs readonly to be true`);
  if (m.propagation !== MountPropagation.PROPAGATION_PRIVATE)
    throw invalidArgument(
      `${what} needs private propagation (got ${m.propagation === MountPropagation.PROPAGATION_BIDIRECTIONAL ? "bidirectional" : "host-to-container"})`,
    );
}
