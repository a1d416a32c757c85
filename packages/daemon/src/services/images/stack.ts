/**
 * The image stores the daemon serves, opened over the daemon's root and its
 * metadata database: content store, image records, the overlayfs (when the
 * kernel has it) and native snapshotters, and the garbage collector whose
 * roots include the daemon's leases and containers. The services over them
 * are rows of the daemon's services table (server/services.ts).
 */
import { join } from "node:path";
import type { Ctx } from "@sandboxd/core";
import {
  contentDir,
  ensureImagesSchema,
  GarbageCollector,
  gcExpire,
  ImageStore,
  LocalContentStore,
  openSnapshotter,
  overlaySupported,
  type DirSnapshotter,
  type GcRoots,
} from "@sandboxd/images";
import type { Metadata } from "../../metadata/metadata.js";
import type { LeaseAdder } from "../content/local.js";
import { labelsFromText } from "../../metadata/encoding.js";

export interface ImageStack {
  content: LocalContentStore;
  images: ImageStore;
  snapshotters: Map<string, DirSnapshotter>;
  defaultSnapshotter: string;
  gc: GarbageCollector;
  addToLease: LeaseAdder;
}

export async function openImageStack(root: string, metadata: Metadata): Promise<ImageStack> {
  ensureImagesSchema(metadata.db);
  const content = new LocalContentStore(join(root, contentDir), metadata.db);
  await content.init();
  const snapshotters = new Map<string, DirSnapshotter>();
  if (overlaySupported())
    snapshotters.set("overlayfs", await openSnapshotter(root, "overlayfs", metadata.db));
  snapshotters.set("native", await openSnapshotter(root, "native", metadata.db));
  const images = new ImageStore(metadata.db);
  const gc = new GarbageCollector({
    db: metadata.db,
    content,
    images,
    snapshotters,
    roots: gcRoots(metadata),
  });
  const addToLease: LeaseAdder = (ctx, lease, type, id) => {
    if (lease) metadata.leases.addResource(ctx, lease, { type, id });
  };
  return {
    content,
    images,
    snapshotters,
    defaultSnapshotter: snapshotters.has("overlayfs") ? "overlayfs" : "native",
    gc,
    addToLease,
  };
}

/** Runs a collection off the request path (after a content or snapshot delete). */
export function collectLater(stack: ImageStack): (ctx: Ctx) => void {
  return (ctx) => {
    stack.gc.collect(ctx).catch((err: unknown) => ctx.log.warn({ error: String(err) }, "gc"));
  };
}

/**
 * Start-up housekeeping, in the background (containerd's GC startup delay):
 * directories left by a crash mid-prepare/remove go, then one collection.
 */
export function startImageHousekeeping(ctx: Ctx, stack: ImageStack): void {
  const run = async (): Promise<void> => {
    for (const s of stack.snapshotters.values()) await s.cleanup(ctx);
    await stack.gc.collect(ctx);
  };
  setTimeout(() => {
    run().catch((err: unknown) => ctx.log.warn({ error: String(err) }, "image housekeeping"));
  }, 100).unref();
}

/** Live leases' resources and containers' snapshots, from the daemon's tables. */
function gcRoots(metadata: Metadata): GcRoots {
  const db = metadata.db;
  return {
    leaseResources() {
      const now = Date.now();
      const live = new Set<string>();
      for (const l of db.stmt("SELECT namespace, id, labels FROM leases").all()) {
        const expire = labelsFromText(l.labels)[gcExpire];
        if (expire && Date.parse(expire) < now) {
          // containerd's GC removes expired leases (their resources go with them).
          db.stmt("DELETE FROM leases WHERE namespace = ? AND id = ?").run(
            String(l.namespace),
            String(l.id),
          );
          continue;
        }
        live.add(`${String(l.namespace)}\0${String(l.id)}`);
      }
      return db
        .stmt("SELECT namespace, lease, type, id FROM lease_resources")
        .all()
        .filter((r) => live.has(`${String(r.namespace)}\0${String(r.lease)}`))
        .map((r) => ({ namespace: String(r.namespace), type: String(r.type), id: String(r.id) }));
    },
    containers() {
      return db
        .stmt("SELECT namespace, snapshotter, snapshot_key, labels FROM containers")
        .all()
        .map((r) => ({
          namespace: String(r.namespace),
          snapshotter: String(r.snapshotter),
          snapshotKey: String(r.snapshot_key),
          labels: labelsFromText(r.labels),
        }));
    },
  };
}
