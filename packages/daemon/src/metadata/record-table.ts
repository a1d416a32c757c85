/**
 * The row mechanics that the namespaced record stores (containers,
 * sandboxes) share: one column list (the id first), rows keyed by
 * (namespace, id), and the store's own conversion to and from a row. What a
 * record may hold and how an update applies stays with each store.
 */
import type { SQLInputValue, SQLOutputValue } from "node:sqlite";
import { mapConstraint, type MetadataDb } from "./db.js";

export type Row = Record<string, SQLOutputValue>;

export interface RowCodec<T> {
  /** The values of `columns`, in their order. */
  toRow(record: T): SQLInputValue[];
  fromRow(row: Row): T;
}

export class RecordTable<T extends { id: string }> {
  readonly #db: MetadataDb;
  readonly #codec: RowCodec<T>;
  readonly #select: string;
  readonly #list: string;
  readonly #insert: string;
  readonly #update: string;
  readonly #delete: string;

  constructor(db: MetadataDb, table: string, columns: readonly string[], codec: RowCodec<T>) {
    if (columns[0] !== "id") throw new Error(`${table}: the first column must be id`);
    this.#db = db;
    this.#codec = codec;
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
    return row ? this.#codec.fromRow(row) : undefined;
  }

  /** Every record of the namespace, by id. */
  list(ns: string): T[] {
    return this.#db
      .stmt(this.#list)
      .all(ns)
      .map((row) => this.#codec.fromRow(row));
  }

  /** AlreadyExists naming `what` when the id is taken. */
  insert(ns: string, record: T, what: string): void {
    try {
      this.#db.stmt(this.#insert).run(ns, ...this.#codec.toRow(record));
    } catch (err) {
      mapConstraint(err, what);
    }
  }

  /** Writes every column but the id over the stored row. */
  replace(ns: string, record: T): void {
    const [, ...rest] = this.#codec.toRow(record);
    this.#db.stmt(this.#update).run(...rest, ns, record.id);
  }

  /** False when there was no such row. */
  delete(ns: string, id: string): boolean {
    return this.#db.stmt(this.#delete).run(ns, id).changes !== 0;
  }
}
