/**
 * The image stores the daemon serves, opened over the daemon's root and its
 * metadata database: content store, image records, the overlayfs (when the
 * kernel has it) and native snapshotters, and the garbage collector whose
 * roots include the daemon's leases and containers. `registerImageServices`
 * puts content/images/snapshots/diff on the gRPC server.
 */
import { join } from "node:path";
import type { Ctx } from "@sandboxd/core";
import type { GrpcServer } from "@sandboxd/grpc";
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
import { labelsFromText } from "../../metadata/encoding.js";
import type { CtxOf } from "../../server/rpc.js";
import { ContentLocal, type LeaseAdder } from "../content/local.js";
import { Content, contentService } from "../content/service.js";
import { DiffLocal } from "../diff/local.js";
import { Diff, diffService } from "../diff/service.js";
import { SnapshotsLocal } from "../snapshots/local.js";
import { Snapshots, snapshotsService } from "../snapshots/service.js";
import { ImagesLocal } from "./local.js";
import { Images, imagesService } from "./service.js";

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

export function registerImageServices(grpc: GrpcServer, stack: ImageStack, ctxOf: CtxOf): void {
  const collectLater = (ctx: Ctx): void => {
    stack.gc.collect(ctx).catch((err: unknown) => ctx.log.warn({ error: String(err) }, "gc"));
  };
  grpc
    .register(
      Content,
      contentService(new ContentLocal(stack.content, stack.addToLease, collectLater), ctxOf),
    )
    .register(
      Images,
      imagesService(new ImagesLocal(stack.images, (ctx) => stack.gc.collect(ctx)), ctxOf),
    )
    .register(
      Snapshots,
      snapshotsService(
        new SnapshotsLocal(stack.snapshotters, stack.addToLease, collectLater),
        ctxOf,
      ),
    )
    .register(Diff, diffService(new DiffLocal(stack.content), ctxOf));
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
        if (expire && Date.parse(expire) < now) continue;
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
