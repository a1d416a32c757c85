// A container made from an image (containerd's WithNewSnapshot + WithImageConfig): a
// snapshot prepared on the image's top chain ID under the container id, and, without a
// spec of the caller's, a process spec from the image config.
import { isNotFound } from "@sandboxd/errdefs";
import type { Mount } from "@sandboxd/api/types/mount_pb";
import type { CallOptions } from "./call-options.js";
import { imageProcess, resolveUser, type ProcessOverrides } from "./images-config.js";
import { prepareImageRootfs, removeSnapshot } from "./images-rootfs.js";
import { applySpecOpts, defaultSpec, type SpecOpt } from "./oci/spec.js";
import type { Spec, User } from "./oci/types.js";
import { imageUserFiles, type LayerDesc } from "./images-passwd.js";
import type { Session } from "./session.js";

/** `newContainer`'s `process` option: the image config's overrides and spec options. */
export interface ImageProcessOptions extends ProcessOverrides {
  terminal?: boolean | undefined;
  hostname?: string | undefined;
  readonlyRootfs?: boolean | undefined;
  consoleSize?: { height: number; width: number } | undefined;
  /** Applied in order to the spec made from the image config (after its user is set). */
  specOpts?: readonly SpecOpt[] | undefined;
}

/** Holds the snapshot until the container record (a GC root) exists. */
const gcRootLabel = "containerd.io/gc.root";

export interface ImageSnapshot {
  snapshotter: string;
  key: string;
  /** The spec from the image config (when none was given). */
  spec: Spec | undefined;
  /** Drops the label that held the snapshot (call once the container exists). */
  release(): Promise<void>;
  /** Removes the snapshot (when the container could not be made). */
  remove(): Promise<void>;
}

/**
 * `uid[:gid]`, `name[:group]`: resolved against the image's /etc/passwd and /etc/group
 * (read from its layers) unless both are numbers.
 */
async function imageUser(
  session: Session,
  user: string,
  layers: readonly LayerDesc[],
  call?: CallOptions,
): Promise<User> {
  if (user === "" || /^\d+:\d+$/.test(user)) {
    const { uid, gid } = resolveUser(user);
    return { uid, gid };
  }
  const { passwd, group } = await imageUserFiles(session, layers, call);
  const { uid, gid, additionalGids } = resolveUser(user, passwd, group);
  return additionalGids.length ? { uid, gid, additionalGids } : { uid, gid };
}

export async function prepareImageSnapshot(
  session: Session,
  id: string,
  image: string,
  withSpec: boolean,
  process: ImageProcessOptions = {},
  call?: CallOptions,
): Promise<ImageSnapshot> {
  const prepared = await prepareImageRootfs(session, image, id, call, {
    [gcRootLabel]: new Date().toISOString(),
  });
  const { snapshotter, key } = prepared;
  const remove = () => removeSnapshot(session, snapshotter, key, call);
  let spec: Spec | undefined;
  try {
    if (withSpec) {
      const p = imageProcess(prepared.config, process);
      spec = defaultSpec({
        id,
        namespace: session.namespace,
        args: p.args,
        env: p.env,
        cwd: p.cwd,
        terminal: process.terminal ?? false,
        hostname: process.hostname,
        readonlyRootfs: process.readonlyRootfs ?? false,
      });
      if (spec.process) {
        spec.process.user = await imageUser(session, p.user, prepared.layers, call);
        if (process.consoleSize) spec.process.consoleSize = process.consoleSize;
      }
      applySpecOpts(spec, process.specOpts ?? []);
    }
  } catch (err) {
    await remove().catch(() => undefined);
    throw err;
  }
  return {
    snapshotter,
    key,
    spec,
    release: async () => {
      await session.services.snapshots.update(
        {
          snapshotter,
          info: { name: key, labels: {} },
          updateMask: { paths: [`labels.${gcRootLabel}`] },
        },
        session.call(call),
      );
    },
    remove,
  };
}

/** The mounts of a container's snapshot (a task's rootfs). */
export async function snapshotMounts(
  session: Session,
  snapshotter: string,
  key: string,
  call?: CallOptions,
): Promise<Mount[]> {
  const r = await session.services.snapshots.mounts({ snapshotter, key }, session.call(call));
  return r.mounts;
}

/** Removes a container's snapshot; one already gone is fine. */
export async function removeContainerSnapshot(
  session: Session,
  snapshotter: string,
  key: string,
  call?: CallOptions,
): Promise<void> {
  try {
    await removeSnapshot(session, snapshotter, key, call);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
