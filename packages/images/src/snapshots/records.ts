/**
 * The snapshot records of one snapshotter in SQLite (`snapshots`, and
 * `snapshot_ids` for directory ids): lookups and the checks that precede a
 * create. The snapshotter owns the writes that go with its directories.
 */
import { alreadyExists, invalidArgument, notFound } from "@sandboxd/errdefs";
import { labelsFromText, type ImagesDb } from "../db.js";
import { Kind, type SnapshotInfo } from "./types.js";

export interface Row {
  key: string;
  id: number;
  parent: string;
  kind: Kind;
  labels: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  size: number;
  inodes: number;
}

export const kindNames: Record<number, string> = { 1: "view", 2: "active", 3: "committed" };

export class SnapshotRecords {
  readonly #db: ImagesDb;
  readonly #snapshotter: string;

  constructor(db: ImagesDb, snapshotter: string) {
    this.#db = db;
    this.#snapshotter = snapshotter;
  }

  find(ns: string, key: string): Row | undefined {
    const r = this.#db
      .stmt("SELECT * FROM snapshots WHERE snapshotter = ? AND namespace = ? AND key = ?")
      .get(this.#snapshotter, ns, key);
    return r ? fromRow(r) : undefined;
  }

  get(ns: string, key: string): Row {
    const row = this.find(ns, key);
    if (!row) throw notFound(`snapshot ${key} does not exist`);
    return row;
  }

  /** Refuses a create of `key` over `parent`: the key taken, the parent missing or not committed. */
  check(ns: string, key: string, parent: string): void {
    if (this.find(ns, key)) throw alreadyExists(`snapshot ${key}`);
    if (parent) {
      const p = this.find(ns, parent);
      if (!p) throw notFound(`parent snapshot ${parent} does not exist`);
      if (p.kind !== Kind.Committed)
        throw invalidArgument(`parent ${parent} is not committed snapshot`);
    }
  }

  /** The next directory id, never reused. */
  nextId(): number {
    const row = this.#db
      .stmt(
        "INSERT INTO snapshot_ids (snapshotter, next_id) VALUES (?, 1) ON CONFLICT (snapshotter) DO UPDATE SET next_id = next_id + 1 RETURNING next_id",
      )
      .get(this.#snapshotter);
    return Number(row?.next_id);
  }
}

export function fromRow(r: Record<string, unknown>): Row {
  return {
    key: String(r.key),
    id: Number(r.id),
    parent: String(r.parent),
    kind: Number(r.kind) as Kind,
    labels: labelsFromText(r.labels),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    size: Number(r.size),
    inodes: Number(r.inodes),
  };
}

export function toInfo(row: Row): SnapshotInfo {
  return {
    name: row.key,
    parent: row.parent,
    kind: row.kind,
    createdAt: new Date(row.createdAt),
    updatedAt: new Date(row.updatedAt),
    labels: row.labels,
  };
}
