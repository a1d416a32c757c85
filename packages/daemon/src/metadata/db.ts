/**
 * The metadata database: SQLite through node:sqlite (built into Node 24, no
 * native module), one file under root. Crash safety comes from SQLite itself:
 * WAL, and every write is one transaction (`tx`), so a kill -9 at any moment
 * leaves either the old or the new state, never half an object. Durability is
 * a group commit: node:sqlite runs on the event loop, where synchronous=FULL
 * would block every request behind each commit's fsync, so commits are not
 * synced by SQLite (synchronous=NORMAL: still never corrupt) and `durable()`
 * fdatasyncs the WAL off the loop, one sync for every commit made before it
 * started; the gRPC server awaits it before each reply, so a reply still
 * means its writes survive a machine crash. The file is locked exclusively for
 * the daemon's lifetime, so a second daemon on the same root fails fast
 * instead of sharing it.
 *
 * Statements are prepared once and cached by their SQL text: the hot paths
 * (ctr run makes four writes) never re-parse SQL.
 */
import { mkdirSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  alreadyExists,
  failedPrecondition,
  resourceExhausted,
  unavailable,
  wrap,
  messageOf,
} from "@sandboxd/errdefs";
import { migrations } from "./migrations.js";

/** containerd's metadata plugin id is io.containerd.metadata.v1 (bolt); ours is sqlite. */
export const metadataDir = "io.containerd.metadata.v1.sqlite";
export const metadataFile = "meta.db";

export class MetadataDb {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  #inTx = false;
  /** total_changes() that the last finished WAL sync covers. */
  #synced = 0;
  #syncing: Promise<void> | undefined;
  #wal: FileHandle | undefined;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
  }

  /** Opens (creating if needed) and migrates the database at `path`. */
  static open(path: string): MetadataDb {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o711 });
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path, { enableForeignKeyConstraints: true, timeout: 0 });
    } catch (err) {
      throw wrap(err, `open metadata database ${path}`);
    }
    try {
      // Exclusive locking first: WAL then keeps its index in process memory
      // (no -shm file) and the lock is held until close or process death.
      try {
        db.exec("PRAGMA locking_mode = EXCLUSIVE");
        db.exec("PRAGMA journal_mode = WAL");
        db.exec("PRAGMA synchronous = NORMAL");
        db.exec("BEGIN IMMEDIATE");
        db.exec("COMMIT");
      } catch (err) {
        if (!isBusy(err)) throw err;
        throw unavailable(
          `metadata database ${path} is locked by another process (another sandboxd with the same root?)`,
          { cause: err },
        );
      }
      const meta = new MetadataDb(path, db);
      meta.#migrate();
      return meta;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** A cached prepared statement for `sql`. */
  stmt(sql: string): StatementSync {
    let s = this.#statements.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  /**
   * Runs `fn` in one write transaction: committed if it returns, rolled back if
   * it throws. Synchronous on purpose: nothing else runs on the event loop
   * between BEGIN and COMMIT, so transactions never interleave.
   */
  tx<T>(fn: () => T): T {
    if (this.#inTx) return fn();
    this.#db.exec("BEGIN IMMEDIATE");
    this.#inTx = true;
    try {
      const result = fn();
      this.#db.exec("COMMIT");
      return result;
    } catch (err) {
      // SQLite has already rolled back after some errors (SQLITE_FULL): a second
      // ROLLBACK would fail and hide the reason.
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw diskFull(err) ?? err;
    } finally {
      this.#inTx = false;
    }
  }

  /**
   * Resolves once every write committed before the call is on disk (see the
   * header): one fdatasync of the WAL shared by all the callers it covers.
   */
  async durable(): Promise<void> {
    if (this.path === ":memory:" || !this.#db.isOpen) return;
    const target = this.#changes();
    while (this.#synced < target) {
      if (!this.#syncing) {
        const covers = this.#changes();
        this.#syncing = this.#syncWal()
          .then(() => {
            this.#synced = Math.max(this.#synced, covers);
          })
          .finally(() => {
            this.#syncing = undefined;
          });
      }
      await this.#syncing;
    }
  }

  /** Rows written since the database was opened (every commit adds to it). */
  #changes(): number {
    return Number(this.stmt("SELECT total_changes() AS n").get()?.n ?? 0);
  }

  async #syncWal(): Promise<void> {
    // The WAL lives as long as the connection (exclusive locking mode never deletes it).
    this.#wal ??= await open(`${this.path}-wal`, "r").catch(() => open(this.path, "r"));
    await this.#wal.datasync();
  }

  /** The schema version (PRAGMA user_version). */
  get schemaVersion(): number {
    const row = this.#db.prepare("PRAGMA user_version").get() as { user_version: number };
    return row.user_version;
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
    this.#statements.clear();
    void this.#wal?.close().catch(() => undefined);
    this.#wal = undefined;
  }

  #migrate(): void {
    const current = this.schemaVersion;
    if (current > migrations.length) {
      throw failedPrecondition(
        `metadata database ${this.path} has schema version ${current}, newer than this sandboxd knows (${migrations.length})`,
      );
    }
    for (let version = current + 1; version <= migrations.length; version++) {
      const migration = migrations[version - 1];
      if (!migration) continue;
      this.tx(() => {
        migration.up(this.#db);
        // PRAGMA takes no bound parameters; version is an integer we control.
        this.#db.exec(`PRAGMA user_version = ${version}`);
      });
    }
  }
}

/** SQLITE_BUSY / SQLITE_LOCKED: another connection holds the lock. */
function isBusy(err: unknown): boolean {
  const code = (err as { errcode?: number }).errcode;
  return typeof code === "number" && ((code & 0xff) === 5 || (code & 0xff) === 6);
}

/** True for a SQLite uniqueness violation (the row already exists). */
export function isConstraintError(err: unknown): boolean {
  const e = err as { code?: string; errcode?: number; errstr?: string };
  return (
    e.code === "ERR_SQLITE_ERROR" && typeof e.errcode === "number" && (e.errcode & 0xff) === 19
  );
}

/** Maps a uniqueness violation to AlreadyExists with `what` as context; rethrows anything else. */
export function mapConstraint(err: unknown, what: string): never {
  if (isConstraintError(err)) throw alreadyExists(what);
  throw err;
}

/** SQLITE_FULL as ResourceExhausted, naming the full disk; undefined for other errors. */
function diskFull(err: unknown): Error | undefined {
  if ((err as { errcode?: unknown }).errcode !== 13) return undefined;
  return resourceExhausted(`metadata: no space left on device: ${messageOf(err)}`, {
    cause: err,
  });
}
