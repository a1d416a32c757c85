/**
 * Snapshot usage for the CRI (a container's writable layer in its stats,
 * ImageFsInfo), measured by the snapshotters' own Usage: the code ctr's
 * Snapshots.Usage runs. A committed snapshot's usage is recorded at commit;
 * an active one's is a walk of its directory (containerd's fs.DiskUsage), so
 * its cost grows with the files a container wrote.
 *
 * containerd's CRI walks every snapshot of k8s.io in a background loop every
 * `stats_collect_period` (10 s) and answers stats from that cache. Here the
 * walk happens on demand, with three bounds instead of a loop that runs when
 * nobody asks:
 * - a measurement is reused for `maxAgeMs` (2 s), so the calls of one kubelet
 *   round (ListContainerStats, ListPodSandboxStats, ImageFsInfo) walk each
 *   snapshot once, while `crictl stats` still shows a write within seconds;
 * - concurrent requests for one snapshot share the walk in flight;
 * - at most `parallel` (2) walks run at once across all calls: each walk keeps
 *   one fs request in libuv's 4-thread pool, which the daemon's log writers
 *   and content store share, so many containers queue instead of starving them.
 * The answer carries when it was measured (FilesystemUsage.timestamp, as
 * containerd's cached snapshot carries its own).
 */
import { namespaceRequired, type Ctx } from "@sandboxd/core";

export interface Measured {
  size: number;
  inodes: number;
  /** When the walk ended (ms since the epoch). */
  atMs: number;
}

export type Measure = (
  ctx: Ctx,
  snapshotter: string,
  key: string,
) => Promise<{ size: number; inodes: number }>;

interface Entry {
  value: Promise<Measured>;
  /** Undefined while the walk runs. */
  atMs: number | undefined;
}

export class UsageMemo {
  readonly #measure: Measure;
  readonly #maxAgeMs: number;
  readonly #parallel: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #waiting: (() => void)[] = [];
  #running = 0;
  #sweptAt = 0;

  constructor(
    measure: Measure,
    o: { maxAgeMs?: number; parallel?: number; now?: () => number } = {},
  ) {
    this.#measure = measure;
    this.#maxAgeMs = o.maxAgeMs ?? 2000;
    this.#parallel = Math.max(1, o.parallel ?? 2);
    this.#now = o.now ?? Date.now;
  }

  /** The usage of `key` in `snapshotter` (the ctx's namespace); rejects as the snapshotter does. */
  get(ctx: Ctx, snapshotter: string, key: string): Promise<Measured> {
    const id = [snapshotter, namespaceRequired(ctx), key].join("\0");
    const now = this.#now();
    this.#sweep(now);
    const held = this.#entries.get(id);
    if (held && (held.atMs === undefined || now - held.atMs <= this.#maxAgeMs)) return held.value;
    const entry: Entry = { atMs: undefined, value: this.#walk(ctx, snapshotter, key) };
    this.#entries.set(id, entry);
    entry.value.then(
      (m) => {
        entry.atMs = m.atMs;
      },
      // A failure is not kept: the next call measures again.
      () => {
        if (this.#entries.get(id) === entry) this.#entries.delete(id);
      },
    );
    return entry.value;
  }

  /** Drops what is known of `key` (it was removed; a new snapshot may take its name). */
  forget(ctx: Ctx, snapshotter: string, key: string): void {
    this.#entries.delete([snapshotter, namespaceRequired(ctx), key].join("\0"));
  }

  async #walk(ctx: Ctx, snapshotter: string, key: string): Promise<Measured> {
    // A freed slot is handed to the first waiter, so a newcomer cannot slip in between.
    if (this.#running < this.#parallel) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      const u = await this.#measure(ctx, snapshotter, key);
      return { size: u.size, inodes: u.inodes, atMs: this.#now() };
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }

  /** Forgets stale measurements (of removed containers too), at most once per maxAge. */
  #sweep(now: number): void {
    if (now - this.#sweptAt < this.#maxAgeMs) return;
    this.#sweptAt = now;
    for (const [id, e] of this.#entries)
      if (e.atMs !== undefined && now - e.atMs > this.#maxAgeMs) this.#entries.delete(id);
  }
}
