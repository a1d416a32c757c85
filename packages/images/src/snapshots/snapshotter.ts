/**
 * Snapshotters with containerd's snapshots.v1 semantics (metadata/snapshot.go
 * and snapshots/storage): keys are client-chosen strings per namespace,
 * committed snapshots are named (chainIDs), parents must be committed, only
 * active snapshots commit, and a snapshot with children cannot be removed.
 * Records live in SQLite (`snapshots`); each snapshot owns a directory
 * `<root>/snapshots/<id>/` with `fs` (and `work` for overlay), built as
 * `new-*` and renamed into place, so a crash leaves only a `new-*` that
 * `cleanup` removes. Commit is a metadata rename: the directory stays.
 *
 * The two backends differ in how a snapshot gets its lower layers: overlayfs
 * stacks the parents' `fs` dirs in one mount, native copies the parent's tree.
 */
import { randomBytes } from "node:crypto";
import { chown, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { alreadyExists, failedPrecondition, invalidArgument } from "@sandboxd/errdefs";
import {
  applyMapKey,
  namespaceRequired,
  parseFieldPaths,
  parseFilters,
  recordAdaptor,
  validateLabels,
  type Ctx,
} from "@sandboxd/core";
import { labelsFromText, labelsToText, type ImagesDb } from "../db.js";
import { fsError } from "../content/digest.js";
import { copyTree, diskUsage } from "./fsutil.js";
import { SnapshotRecords, fromRow, kindNames, toInfo, type Row } from "./records.js";
import {
  Kind,
  snapshotRefLabel,
  type Mount,
  type SnapshotInfo,
  type Snapshotter,
  type Usage,
} from "./types.js";

export type Backend = "overlayfs" | "native";

export class DirSnapshotter implements Snapshotter {
  readonly name: Backend;
  readonly root: string;
  readonly #db: ImagesDb;
  readonly #indexOff: boolean;
  readonly #records: SnapshotRecords;

  constructor(name: Backend, root: string, db: ImagesDb, options: { indexOff?: boolean } = {}) {
    this.name = name;
    this.root = root;
    this.#db = db;
    this.#indexOff = options.indexOff ?? false;
    this.#records = new SnapshotRecords(db, name);
  }

  async init(): Promise<void> {
    await mkdir(join(this.root, "snapshots"), { recursive: true, mode: 0o700 });
  }

  stat(ctx: Ctx, key: string): SnapshotInfo {
    return toInfo(this.#records.get(namespaceRequired(ctx), key));
  }

  update(
    ctx: Ctx,
    info: Pick<SnapshotInfo, "name" | "labels">,
    fieldpaths: string[] = [],
  ): SnapshotInfo {
    const ns = namespaceRequired(ctx);
    const paths = parseFieldPaths(
      fieldpaths,
      { fields: [], maps: ["labels"] },
      (p) => `cannot update ${JSON.stringify(p)} field on snapshot ${JSON.stringify(info.name)}`,
    );
    return this.#db.tx(() => {
      const row = this.#records.get(ns, info.name);
      let labels = { ...row.labels };
      if (paths.length === 0) labels = { ...info.labels };
      for (const p of paths) {
        if (p.kind === "field") labels = { ...info.labels };
        else applyMapKey(labels, info.labels, p.key);
      }
      validateLabels(labels, "snapshot.Labels");
      const now = Date.now();
      this.#db
        .stmt(
          "UPDATE snapshots SET labels = ?, updated_at = ? WHERE snapshotter = ? AND namespace = ? AND key = ?",
        )
        .run(labelsToText(labels), now, this.name, ns, info.name);
      return toInfo({ ...row, labels, updatedAt: now });
    });
  }

  async usage(ctx: Ctx, key: string): Promise<Usage> {
    const row = this.#records.get(namespaceRequired(ctx), key);
    if (row.kind === Kind.Committed && row.size >= 0) return { size: row.size, inodes: row.inodes };
    if (row.kind === Kind.View && this.name === "overlayfs") return { size: 0, inodes: 0 };
    return diskUsage(this.#fs(row.id));
  }

  mounts(ctx: Ctx, key: string): Mount[] {
    const ns = namespaceRequired(ctx);
    const row = this.#records.get(ns, key);
    if (row.kind !== Kind.Active && row.kind !== Kind.View) {
      throw failedPrecondition(`requested snapshot ${key} not active or view`);
    }
    return this.#mounts(ns, row);
  }

  prepare(
    ctx: Ctx,
    key: string,
    parent = "",
    labels: Record<string, string> = {},
  ): Promise<Mount[]> {
    return this.#create(ctx, Kind.Active, key, parent, labels);
  }

  view(ctx: Ctx, key: string, parent = "", labels: Record<string, string> = {}): Promise<Mount[]> {
    return this.#create(ctx, Kind.View, key, parent, labels);
  }

  async commit(
    ctx: Ctx,
    name: string,
    key: string,
    labels: Record<string, string> = {},
  ): Promise<void> {
    const ns = namespaceRequired(ctx);
    if (!name) throw invalidArgument("snapshot name must not be empty");
    validateLabels(labels, "snapshot.Labels");
    const row = this.#records.get(ns, key);
    if (row.kind !== Kind.Active) throw failedPrecondition(`snapshot ${key} is not active`);
    const usage = await diskUsage(this.#fs(row.id));
    this.#db.tx(() => {
      const current = this.#records.get(ns, key);
      if (current.kind !== Kind.Active) throw failedPrecondition(`snapshot ${key} is not active`);
      if (this.#records.find(ns, name)) throw alreadyExists(`snapshot ${name}`);
      const now = Date.now();
      this.#db
        .stmt(
          "UPDATE snapshots SET key = ?, kind = ?, labels = ?, created_at = ?, updated_at = ?, size = ?, inodes = ? WHERE snapshotter = ? AND namespace = ? AND key = ?",
        )
        .run(
          name,
          Kind.Committed,
          labelsToText(labels),
          now,
          now,
          usage.size,
          usage.inodes,
          this.name,
          ns,
          key,
        );
    });
  }

  async remove(ctx: Ctx, key: string): Promise<void> {
    const ns = namespaceRequired(ctx);
    const id = this.#db.tx(() => {
      const row = this.#records.get(ns, key);
      const child = this.#db
        .stmt(
          "SELECT 1 FROM snapshots WHERE snapshotter = ? AND namespace = ? AND parent = ? LIMIT 1",
        )
        .get(this.name, ns, key);
      if (child) throw failedPrecondition(`cannot remove snapshot with child`);
      this.#db
        .stmt("DELETE FROM snapshots WHERE snapshotter = ? AND namespace = ? AND key = ?")
        .run(this.name, ns, key);
      return row.id;
    });
    await this.#removeDir(String(id));
  }

  walk(ctx: Ctx, filters: string[] = []): SnapshotInfo[] {
    const ns = namespaceRequired(ctx);
    const filter = parseFilters(filters);
    return this.#db
      .stmt("SELECT * FROM snapshots WHERE snapshotter = ? AND namespace = ? ORDER BY key")
      .all(this.name, ns)
      .map(fromRow)
      .map(toInfo)
      .filter((i) =>
        filter(
          recordAdaptor(
            { name: i.name, parent: i.parent || undefined, kind: kindNames[i.kind] },
            i.labels,
          ),
        ),
      );
  }

  async cleanup(_ctx: Ctx): Promise<void> {
    const ids = new Set(
      this.#db
        .stmt("SELECT id FROM snapshots WHERE snapshotter = ?")
        .all(this.name)
        .map((r) => String(r.id)),
    );
    const dir = join(this.root, "snapshots");
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!ids.has(name)) await rm(join(dir, name), { recursive: true, force: true });
    }
  }

  /** Every (namespace, key, parent, labels) of this snapshotter; for garbage collection. */
  allSnapshots(): {
    namespace: string;
    key: string;
    parent: string;
    labels: Record<string, string>;
  }[] {
    return this.#db
      .stmt("SELECT namespace, key, parent, labels FROM snapshots WHERE snapshotter = ?")
      .all(this.name)
      .map((r) => ({
        namespace: String(r.namespace),
        key: String(r.key),
        parent: String(r.parent),
        labels: labelsFromText(r.labels),
      }));
  }

  async #create(
    ctx: Ctx,
    kind: Kind,
    key: string,
    parent: string,
    labels: Record<string, string>,
  ): Promise<Mount[]> {
    const ns = namespaceRequired(ctx);
    if (!key) throw invalidArgument("snapshot key must not be empty");
    validateLabels(labels, "snapshot.Labels");
    const target = labels[snapshotRefLabel];
    if (target && this.#records.find(ns, target))
      throw alreadyExists(`target snapshot ${JSON.stringify(target)}`);
    this.#records.check(ns, key, parent);
    const parentRow = parent ? this.#records.get(ns, parent) : undefined;
    const tmp = join(this.root, "snapshots", `new-${randomBytes(6).toString("hex")}`);
    try {
      await mkdir(tmp, { mode: 0o700 });
      const fs = join(tmp, "fs");
      if (this.name === "native" && parentRow) {
        await copyTree(this.#fs(parentRow.id), fs);
      } else {
        await mkdir(fs, { mode: 0o755 });
        if (parentRow) {
          const st = await stat(this.#fs(parentRow.id));
          await chown(fs, st.uid, st.gid);
        }
      }
      if (this.name === "overlayfs" && kind === Kind.Active)
        await mkdir(join(tmp, "work"), { mode: 0o711 });
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw fsError(err, `prepare snapshot ${JSON.stringify(key)}`);
    }
    let row: Row;
    try {
      row = this.#db.tx(() => {
        this.#records.check(ns, key, parent);
        const id = this.#records.nextId();
        const now = Date.now();
        this.#db
          .stmt(
            "INSERT INTO snapshots (snapshotter, namespace, key, id, parent, kind, labels, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
          )
          .run(this.name, ns, key, id, parent, kind, labelsToText(labels), now, now);
        return {
          key,
          id,
          parent,
          kind,
          labels,
          createdAt: now,
          updatedAt: now,
          size: -1,
          inodes: -1,
        };
      });
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    try {
      await rename(tmp, join(this.root, "snapshots", String(row.id)));
    } catch (err) {
      this.#db
        .stmt("DELETE FROM snapshots WHERE snapshotter = ? AND namespace = ? AND key = ?")
        .run(this.name, ns, key);
      await rm(tmp, { recursive: true, force: true });
      throw fsError(err, `prepare snapshot ${JSON.stringify(key)}`);
    }
    return this.#mounts(ns, row);
  }

  #mounts(ns: string, row: Row): Mount[] {
    const parents = this.#parentIds(ns, row.parent);
    const ro = row.kind === Kind.View;
    if (this.name === "native" || parents.length === 0) {
      return [{ type: "bind", source: this.#fs(row.id), options: [ro ? "ro" : "rw", "rbind"] }];
    }
    if (ro && parents.length === 1) {
      return [{ type: "bind", source: this.#fs(parents[0] as number), options: ["ro", "rbind"] }];
    }
    const options = this.#indexOff ? ["index=off"] : [];
    if (!ro) {
      options.push(`workdir=${join(this.#dir(row.id), "work")}`, `upperdir=${this.#fs(row.id)}`);
    }
    options.push(`lowerdir=${parents.map((id) => this.#fs(id)).join(":")}`);
    return [{ type: "overlay", source: "overlay", options }];
  }

  /** Directory ids of the parent chain, newest first. */
  #parentIds(ns: string, parent: string): number[] {
    const ids: number[] = [];
    for (let key = parent; key;) {
      const p = this.#records.get(ns, key);
      ids.push(p.id);
      key = p.parent;
    }
    return ids;
  }

  #dir(id: number): string {
    return join(this.root, "snapshots", String(id));
  }

  #fs(id: number): string {
    return join(this.#dir(id), "fs");
  }

  async #removeDir(name: string): Promise<void> {
    const dir = join(this.root, "snapshots", name);
    const doomed = join(this.root, "snapshots", `rm-${name}-${randomBytes(4).toString("hex")}`);
    try {
      await rename(dir, doomed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw fsError(err, `remove snapshot directory ${name}`);
    }
    await rm(doomed, { recursive: true, force: true });
  }
}
