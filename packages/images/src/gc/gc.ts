/**
 * Garbage collection by containerd's labels (metadata/gc.go): mark from the
 * roots, sweep the rest, per namespace.
 *
 * Roots: every live lease's resources (content, ingests, snapshots/<name>);
 * every image's target and its gc.ref labels; content and snapshots labelled
 * `containerd.io/gc.root`; every container's snapshot and gc.ref labels;
 * ingests touched within the last 24 h. Edges: content → its
 * `containerd.io/gc.ref.content*` (digests) and
 * `containerd.io/gc.ref.snapshot.<snapshotter>` (keys) labels; snapshot → its
 * parent and the same labels. Unmarked content rows go (and their blob files
 * once no namespace holds them), unmarked snapshots go leaves first, stale
 * ingests are aborted.
 */
import { rm } from "node:fs/promises";
import { withNamespace, type Ctx } from "@sandboxd/core";
import type { ImagesDb } from "../db.js";
import type { LocalContentStore } from "../content/store.js";
import type { ImageStore } from "../content/imagestore.js";
import type { DirSnapshotter } from "../snapshots/snapshotter.js";
import { labelsFromText } from "../db.js";
import { messageOf } from "@sandboxd/errdefs";

export const gcRoot = "containerd.io/gc.root";
export const gcRefContent = "containerd.io/gc.ref.content";
export const gcRefSnapshot = "containerd.io/gc.ref.snapshot.";
export const gcExpire = "containerd.io/gc.expire";
const ingestTtlMs = 24 * 3600 * 1000;

/** What the daemon's metadata holds beyond this package: leases and containers. */
export interface GcRoots {
  /** Resources of live (not expired) leases. */
  leaseResources(): { namespace: string; type: string; id: string }[];
  /** Containers' snapshots and labels. */
  containers(): {
    namespace: string;
    snapshotter: string;
    snapshotKey: string;
    labels: Record<string, string>;
  }[];
}

export interface GcResult {
  content: number;
  snapshots: number;
  ingests: number;
}

export class GarbageCollector {
  readonly #db: ImagesDb;
  readonly #content: LocalContentStore;
  readonly #images: ImageStore;
  readonly #snapshotters: Map<string, DirSnapshotter>;
  readonly #roots: GcRoots;
  #chain: Promise<unknown> = Promise.resolve();
  #running = false;
  #holds = 0;
  #idle: Promise<void> = Promise.resolve();
  #release: (() => void) | undefined;

  constructor(options: {
    db: ImagesDb;
    content: LocalContentStore;
    images: ImageStore;
    snapshotters: Map<string, DirSnapshotter>;
    roots: GcRoots;
  }) {
    this.#db = options.db;
    this.#content = options.content;
    this.#images = options.images;
    this.#snapshotters = options.snapshotters;
    this.#roots = options.roots;
  }

  /** Runs a collection after any in progress (collections never overlap). */
  collect(ctx: Ctx): Promise<GcResult> {
    const run = this.#chain
      .catch(() => undefined)
      .then(async () => {
        while (this.#holds > 0) await this.#idle;
        this.#running = true;
        try {
          return await this.#run(ctx);
        } finally {
          this.#running = false;
        }
      });
    this.#chain = run;
    return run;
  }

  /**
   * Runs `fn` (a pull: content and snapshots not yet referenced by an image
   * record) with no collection overlapping it, as containerd's pull lease does.
   */
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#running) await this.#chain.catch(() => undefined);
    if (this.#holds++ === 0) this.#idle = new Promise((r) => (this.#release = r));
    try {
      return await fn();
    } finally {
      if (--this.#holds === 0) this.#release?.();
    }
  }

  async #run(ctx: Ctx): Promise<GcResult> {
    const content = new Set<string>(); // ns \0 digest
    const snapshots = new Set<string>(); // ns \0 snapshotter \0 key
    const ingests = new Set<string>(); // ns \0 ref
    const queue: (() => void)[] = [];
    const blobLabels = new Map<string, Record<string, string>>();
    for (const r of this.#db.stmt("SELECT namespace, digest, labels FROM content_blobs").all()) {
      blobLabels.set(`${String(r.namespace)}\0${String(r.digest)}`, labelsFromText(r.labels));
    }
    const snaps = new Map<string, { parent: string; labels: Record<string, string> }>();
    for (const [name, s] of this.#snapshotters) {
      for (const r of s.allSnapshots()) {
        snaps.set(`${r.namespace}\0${name}\0${r.key}`, { parent: r.parent, labels: r.labels });
      }
    }

    const markContent = (ns: string, digest: string): void => {
      const id = `${ns}\0${digest}`;
      if (content.has(id) || !blobLabels.has(id)) return;
      content.add(id);
      queue.push(() => followLabels(ns, blobLabels.get(id) ?? {}));
    };
    const markSnapshot = (ns: string, snapshotter: string, key: string): void => {
      const id = `${ns}\0${snapshotter}\0${key}`;
      const s = snaps.get(id);
      if (snapshots.has(id) || !s) return;
      snapshots.add(id);
      queue.push(() => {
        if (s.parent) markSnapshot(ns, snapshotter, s.parent);
        followLabels(ns, s.labels);
      });
    };
    const followLabels = (ns: string, labels: Record<string, string>): void => {
      for (const [k, v] of Object.entries(labels)) {
        if (k.startsWith(gcRefContent)) markContent(ns, v);
        else if (k.startsWith(gcRefSnapshot)) {
          markSnapshot(ns, k.slice(gcRefSnapshot.length).split("/")[0] as string, v);
        }
      }
    };

    // Roots.
    for (const r of this.#roots.leaseResources()) {
      if (r.type === "content") markContent(r.namespace, r.id);
      else if (r.type === "ingests") ingests.add(`${r.namespace}\0${r.id}`);
      else if (r.type.startsWith("snapshots/")) markSnapshot(r.namespace, r.type.slice(10), r.id);
    }
    for (const { namespace, image } of this.#images.all()) {
      markContent(namespace, image.target.digest);
      followLabels(namespace, image.labels);
    }
    for (const [id, labels] of blobLabels) {
      if (Object.hasOwn(labels, gcRoot)) {
        const [ns, digest] = id.split("\0") as [string, string];
        markContent(ns, digest);
      }
    }
    for (const [id, s] of snaps) {
      if (Object.hasOwn(s.labels, gcRoot)) {
        const [ns, snapshotter, key] = id.split("\0") as [string, string, string];
        markSnapshot(ns, snapshotter, key);
      }
    }
    for (const c of this.#roots.containers()) {
      if (c.snapshotter && c.snapshotKey) markSnapshot(c.namespace, c.snapshotter, c.snapshotKey);
      followLabels(c.namespace, c.labels);
    }
    while (queue.length > 0) (queue.shift() as () => void)();

    // Sweep.
    const result: GcResult = { content: 0, snapshots: 0, ingests: 0 };
    for (const id of blobLabels.keys()) {
      if (content.has(id)) continue;
      const [ns, digest] = id.split("\0") as [string, string];
      try {
        await this.#content.delete(withNamespace(ctx, ns), digest);
        result.content++;
      } catch {
        // deleted concurrently
      }
    }
    for (const digest of await this.#content.blobsOnDisk()) {
      if (await this.#content.removeUnreferencedBlob(digest)) result.content++;
    }
    let pending = [...snaps.keys()].filter((id) => !snapshots.has(id));
    while (pending.length > 0) {
      const parents = new Set(
        pending.map((id) => {
          const [ns, sn] = id.split("\0") as [string, string];
          return `${ns}\0${sn}\0${snaps.get(id)?.parent ?? ""}`;
        }),
      );
      const leaves = pending.filter((id) => !parents.has(id));
      if (leaves.length === 0) break;
      for (const id of leaves) {
        const [ns, sn, key] = id.split("\0") as [string, string, string];
        try {
          await this.#snapshotters.get(sn)?.remove(withNamespace(ctx, ns), key);
          result.snapshots++;
        } catch (err) {
          ctx.log.warn({ snapshot: key, error: messageOf(err) }, "gc: remove snapshot");
        }
      }
      pending = pending.filter((id) => !leaves.includes(id));
    }
    const now = Date.now();
    for (const ing of await this.#content.ingests()) {
      if (ingests.has(`${ing.namespace}\0${ing.ref}`)) continue;
      if (this.#content.isLocked(ing.namespace, ing.ref)) continue;
      if (now - ing.updatedAt < ingestTtlMs) continue;
      await rm(ing.dir, { recursive: true, force: true });
      result.ingests++;
    }
    if (result.content + result.snapshots + result.ingests > 0) ctx.log.debug(result, "gc");
    return result;
  }
}
