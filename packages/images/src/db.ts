/**
 * The SQLite metadata the image stores keep (content labels, images,
 * snapshots). The stores take any database with the daemon's MetadataDb shape
 * (`stmt` for cached prepared statements, `tx` for one synchronous write
 * transaction), so the daemon passes its own database and the tests open a
 * private one with `openImagesDb`. The tables are created here with IF NOT
 * EXISTS, so this package owns its schema without touching the daemon's
 * migrations.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { resourceExhausted } from "@sandboxd/errdefs";

export interface ImagesDb {
  stmt(sql: string): StatementSync;
  tx<T>(fn: () => T): T;
}

const schema = [
  `CREATE TABLE IF NOT EXISTS content_blobs (
     namespace  TEXT NOT NULL,
     digest     TEXT NOT NULL,
     size       INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     labels     TEXT NOT NULL DEFAULT '{}',
     PRIMARY KEY (namespace, digest)
   ) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS content_blobs_digest ON content_blobs (digest)`,
  `CREATE TABLE IF NOT EXISTS images (
     namespace   TEXT NOT NULL,
     name        TEXT NOT NULL,
     labels      TEXT NOT NULL DEFAULT '{}',
     media_type  TEXT NOT NULL,
     digest      TEXT NOT NULL,
     size        INTEGER NOT NULL,
     annotations TEXT NOT NULL DEFAULT '{}',
     created_at  INTEGER NOT NULL,
     updated_at  INTEGER NOT NULL,
     PRIMARY KEY (namespace, name)
   ) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS snapshots (
     snapshotter TEXT NOT NULL,
     namespace   TEXT NOT NULL,
     key         TEXT NOT NULL,
     id          INTEGER NOT NULL,
     parent      TEXT NOT NULL DEFAULT '',
     kind        INTEGER NOT NULL,
     labels      TEXT NOT NULL DEFAULT '{}',
     created_at  INTEGER NOT NULL,
     updated_at  INTEGER NOT NULL,
     size        INTEGER NOT NULL DEFAULT -1,
     inodes      INTEGER NOT NULL DEFAULT -1,
     PRIMARY KEY (snapshotter, namespace, key)
   ) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS snapshot_ids (
     snapshotter TEXT PRIMARY KEY,
     next_id     INTEGER NOT NULL
   ) WITHOUT ROWID`,
];

/** Creates the image tables in `db` when missing. Idempotent. */
export function ensureImagesSchema(db: ImagesDb): void {
  db.tx(() => {
    for (const sql of schema) db.stmt(sql).run();
  });
}

/** A private database (tests, tools): WAL, synchronous=FULL, schema created. */
export function openImagesDb(path: string): ImagesDb & { close(): void } {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
  const db = new DatabaseSync(path, { timeout: 1000 });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = FULL");
  const statements = new Map<string, StatementSync>();
  let inTx = false;
  const handle = {
    stmt(sql: string): StatementSync {
      let s = statements.get(sql);
      if (!s) {
        s = db.prepare(sql);
        statements.set(sql, s);
      }
      return s;
    },
    tx<T>(fn: () => T): T {
      if (inTx) return fn();
      db.exec("BEGIN IMMEDIATE");
      inTx = true;
      try {
        const result = fn();
        db.exec("COMMIT");
        return result;
      } catch (err) {
        if (db.isTransaction) db.exec("ROLLBACK");
        if ((err as { errcode?: unknown }).errcode === 13) {
          throw resourceExhausted(`images metadata: no space left on device`, { cause: err });
        }
        throw err;
      } finally {
        inTx = false;
      }
    },
    close(): void {
      statements.clear();
      if (db.isOpen) db.close();
    },
  };
  ensureImagesSchema(handle);
  return handle;
}

/** Labels as stored: JSON text of a string map. */
export function labelsToText(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(labels);
}

export function labelsFromText(text: unknown): Record<string, string> {
  if (typeof text !== "string" || text === "") return {};
  return JSON.parse(text) as Record<string, string>;
}
