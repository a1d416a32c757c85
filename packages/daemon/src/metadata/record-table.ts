/**
 * What the namespaced record stores (containers, sandboxes) share: the
 * fields both records have (id, labels, runtime, spec, extensions, times),
 * their columns and encodings, rows keyed by (namespace, id), the times the
 * store sets, and list filters. A store names only its own columns, all
 * plain text; what a record may hold and how an update applies stays with
 * each store.
 */
import type { SQLInputValue, SQLOutputValue } from "node:sqlite";
import { parseFilters } from "@sandboxd/core";
import { adaptObject } from "./adaptors.js";
import { mapConstraint, type MetadataDb } from "./db.js";
import {
  anyFromBlob,
  anyMapFromText,
  anyMapToText,
  anyToBlob,
  labelsFromText,
  labelsToText,
} from "./encoding.js";
import type { NamespaceStore } from "./namespaces.js";
import type { Container, Sandbox } from "./types.js";

export type Row = Record<string, SQLOutputValue>;

/** The fields every record in a RecordTable has, stored in the shared columns. */
export type StoredRecord = Pick<
  Container & Sandbox,
  "id" | "labels" | "runtime" | "spec" | "extensions" | "createdAt" | "updatedAt"
>;

/** The record's other fields, each a text column: field name to column name. */
export type TextColumns<T extends StoredRecord> = {
  readonly [K in Exclude<keyof T, keyof StoredRecord>]: T[K] extends string ? string : never;
};

// The id comes first: replace() writes every column but it.
const sharedColumns = [
  "id",
  "labels",
  "runtime_name",
  "runtime_options",
  "spec",
  "extensions",
  "created_at",
  "updated_at",
];

function sharedToRow(r: StoredRecord): SQLInputValue[] {
  return [
    r.id,
    labelsToText(r.labels),
    r.runtime.name,
    anyToBlob(r.runtime.options),
    anyToBlob(r.spec),
    anyMapToText(r.extensions),
    r.createdAt,
    r.updatedAt,
  ];
}

function sharedFromRow(row: Row): StoredRecord {
  return {
    id: String(row.id),
    labels: labelsFromText(row.labels),
    runtime: { name: String(row.runtime_name), options: anyFromBlob(row.runtime_options) },
    spec: anyFromBlob(row.spec),
    extensions: anyMapFromText(row.extensions),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** A record before the store stamps its times. */
export type NewRecord<T extends StoredRecord> = Omit<T, "createdAt" | "updatedAt">;

export class RecordTable<T extends StoredRecord> {
  readonly #db: MetadataDb;
  readonly #namespaces: NamespaceStore;
  readonly #table: string;
  readonly #own: [field: keyof T & string, column: string][];
  readonly #select: string;
  readonly #list: string;
  readonly #insert: string;
  readonly #update: string;
  readonly #delete: string;

  constructor(db: MetadataDb, namespaces: NamespaceStore, table: string, own: TextColumns<T>) {
    this.#db = db;
    this.#namespaces = namespaces;
    this.#table = table;
    this.#own = Object.entries(own) as [keyof T & string, string][];
    const columns = [...sharedColumns, ...this.#own.map(([, column]) => column)];
    const list = columns.join(", ");
    this.#select = `SELECT ${list} FROM ${table} WHERE namespace = ? AND id = ?`;
    this.#list = `SELECT ${list} FROM ${table} WHERE namespace = ? ORDER BY id`;
    this.#insert = `INSERT INTO ${table} (namespace, ${list}) VALUES (?, ${columns.map(() => "?").join(", ")})`;
    const sets = columns.slice(1).map((c) => `${c} = ?`);
    this.#update = `UPDATE ${table} SET ${sets.join(", ")} WHERE namespace = ? AND id = ?`;
    this.#delete = `DELETE FROM ${table} WHERE namespace = ? AND id = ?`;
  }

  find(ns: string, id: string): T | undefined {
    const row = this.#db.stmt(this.#select).get(ns, id);
    return row ? this.#fromRow(row) : undefined;
  }

  /** Whether the record exists (nothing decoded). */
  has(ns: string, id: string): boolean {
    const sql = `SELECT 1 FROM ${this.#table} WHERE namespace = ? AND id = ?`;
    return this.#db.stmt(sql).get(ns, id) !== undefined;
  }

  /** Ids, in order, of the records of the namespace whose own text `field` is `value`. */
  idsWhere(ns: string, field: keyof TextColumns<T>, value: string): string[] {
    // The constructor's TextColumns<T> names a column for every such field.
    const [, column] = this.#own.find(([f]) => f === field)!;
    const sql = `SELECT id FROM ${this.#table} WHERE namespace = ? AND ${column} = ? ORDER BY id`;
    return this.#db
      .stmt(sql)
      .all(ns, value)
      .map((row) => String(row.id));
  }

  /** Runs `fn` in one write transaction (a read, a check and a write that belong together). */
  tx<R>(fn: () => R): R {
    return this.#db.tx(fn);
  }

  /**
   * The records of the namespace, by id, that match containerd filters over
   * their id, runtime.name, labels and the `fields` a store adds.
   */
  list(
    ns: string,
    filters: readonly string[],
    fields: (record: T) => Readonly<Record<string, string>>,
  ): T[] {
    const filter = parseFilters(filters);
    return this.#db
      .stmt(this.#list)
      .all(ns)
      .map((row) => this.#fromRow(row))
      .filter((record) => {
        const all = { id: record.id, "runtime.name": record.runtime.name, ...fields(record) };
        return filter(adaptObject(all, record.labels));
      });
  }

  /**
   * Stamps both times and inserts, creating the namespace in the same
   * transaction; AlreadyExists naming `what` when the id is taken.
   */
  create(ns: string, record: NewRecord<T>, what: string): T {
    const now = Date.now();
    // NewRecord<T> is T without the two times added here.
    const created = { ...record, createdAt: now, updatedAt: now } as T;
    this.#db.tx(() => {
      this.#namespaces.ensure(ns);
      try {
        this.#db.stmt(this.#insert).run(ns, ...this.#toRow(created));
      } catch (err) {
        mapConstraint(err, what);
      }
    });
    return created;
  }

  /**
   * Writes every column of `next` but the id over the stored row, with an
   * updatedAt that never goes back behind `current`'s (the clock may).
   */
  replace(ns: string, next: T, current: T): T {
    const written = { ...next, updatedAt: Math.max(Date.now(), current.updatedAt) };
    const [, ...rest] = this.#toRow(written);
    this.#db.stmt(this.#update).run(...rest, ns, written.id);
    return written;
  }

  /** False when there was no such row. */
  delete(ns: string, id: string): boolean {
    return this.#db.stmt(this.#delete).run(ns, id).changes !== 0;
  }

  #toRow(record: T): SQLInputValue[] {
    return [...sharedToRow(record), ...this.#own.map(([field]) => String(record[field]))];
  }

  #fromRow(row: Row): T {
    const record: Record<string, unknown> = { ...sharedFromRow(row) };
    for (const [field, column] of this.#own) record[field] = String(row[column]);
    // TextColumns<T> names every field of T beyond the shared ones.
    return record as T;
  }
}
