/**
 * Namespaces (containerd metadata/namespaces.go). A namespace exists once it
 * is created explicitly or once anything is created in it (`ensure`, called
 * inside the other stores' transactions), as containerd's buckets do.
 */
import { alreadyExists, failedPrecondition, notFound } from "@sandboxd/errdefs";
import { validateIdentifier, validateLabels } from "@sandboxd/core";
import type { MetadataDb } from "./db.js";
import { isConstraintError } from "./db.js";
import { labelsFromText, labelsToText } from "./encoding.js";
import type { Namespace } from "./types.js";

/** Tables whose rows keep a namespace from being deleted, and how the error names them. */
const holders = [
  { table: "containers", what: "containers" },
  { table: "sandboxes", what: "sandboxes" },
  { table: "leases", what: "leases" },
] as const;

export class NamespaceStore {
  readonly #db: MetadataDb;

  constructor(db: MetadataDb) {
    this.#db = db;
  }

  create(name: string, labels: Readonly<Record<string, string>>): void {
    validateIdentifier(name);
    validateLabels(labels, "namespace.Labels");
    try {
      this.#db
        .stmt("INSERT INTO namespaces (name, labels, created_at) VALUES (?, ?, ?)")
        .run(name, labelsToText(labels), Date.now());
    } catch (err) {
      if (isConstraintError(err)) throw alreadyExists(`namespace ${JSON.stringify(name)}`);
      throw err;
    }
  }

  /** Creates the namespace if it does not exist (inside the caller's transaction). */
  ensure(name: string): void {
    this.#db
      .stmt("INSERT OR IGNORE INTO namespaces (name, labels, created_at) VALUES (?, '{}', ?)")
      .run(name, Date.now());
  }

  /** The labels of `name`; empty when it does not exist (containerd answers the same). */
  labels(name: string): Record<string, string> {
    const row = this.#db.stmt("SELECT labels FROM namespaces WHERE name = ?").get(name);
    return row ? labelsFromText(row.labels) : {};
  }

  exists(name: string): boolean {
    return this.#db.stmt("SELECT 1 FROM namespaces WHERE name = ?").get(name) !== undefined;
  }

  list(): Namespace[] {
    return this.#db
      .stmt("SELECT name, labels FROM namespaces ORDER BY name")
      .all()
      .map((row) => ({ name: String(row.name), labels: labelsFromText(row.labels) }));
  }

  /**
   * Replaces all labels, or with `keys` sets only those keys (a missing or
   * empty value removes the key). Creates the namespace if needed, like
   * containerd's SetLabel.
   */
  updateLabels(
    name: string,
    labels: Readonly<Record<string, string>>,
    keys?: readonly string[],
  ): Record<string, string> {
    validateIdentifier(name);
    return this.#db.tx(() => {
      this.ensure(name);
      let next: Record<string, string>;
      if (keys === undefined) {
        next = Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== ""));
      } else {
        next = this.labels(name);
        for (const key of keys) {
          const value = labels[key] ?? "";
          if (value === "") delete next[key];
          else next[key] = value;
        }
      }
      validateLabels(next, "namespace.Labels");
      this.#db
        .stmt("UPDATE namespaces SET labels = ? WHERE name = ?")
        .run(labelsToText(next), name);
      return next;
    });
  }

  /** Deletes an empty namespace; FailedPrecondition naming what it still holds. */
  delete(name: string): void {
    this.#db.tx(() => {
      if (!this.exists(name)) throw notFound(`namespace ${JSON.stringify(name)}`);
      const left = holders
        .filter(
          ({ table }) =>
            this.#db.stmt(`SELECT 1 FROM ${table} WHERE namespace = ? LIMIT 1`).get(name) !==
            undefined,
        )
        .map(({ what }) => what);
      if (left.length > 0) {
        throw failedPrecondition(
          `namespace ${JSON.stringify(name)} must be empty, but it still has ${left.join(", ")}`,
        );
      }
      this.#db.stmt("DELETE FROM namespaces WHERE name = ?").run(name);
    });
  }
}
