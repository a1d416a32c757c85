/**
 * Schema migrations, applied in order at open; PRAGMA user_version records
 * how many ran. Each runs in its own transaction with the version bump, so a
 * crash mid-migration leaves the previous version intact. Append only: never
 * edit a migration that has shipped.
 *
 * Conventions: the namespace is the first column of every primary key;
 * timestamps are epoch milliseconds (INTEGER); labels are a JSON object
 * (TEXT); a google.protobuf.Any is its binary encoding (BLOB); a
 * map<string, Any> is a JSON object of base64 binary Anys (TEXT).
 */
import type { DatabaseSync } from "node:sqlite";

export interface Migration {
  readonly name: string;
  up(db: DatabaseSync): void;
}

export const migrations: readonly Migration[] = [
  {
    name: "namespaces, containers, leases",
    up(db) {
      db.exec(`
        CREATE TABLE namespaces (
          name        TEXT NOT NULL PRIMARY KEY,
          labels      TEXT NOT NULL DEFAULT '{}',
          created_at  INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE containers (
          namespace        TEXT NOT NULL REFERENCES namespaces (name),
          id               TEXT NOT NULL,
          labels           TEXT NOT NULL DEFAULT '{}',
          image            TEXT NOT NULL DEFAULT '',
          runtime_name     TEXT NOT NULL,
          runtime_options  BLOB,
          spec             BLOB,
          snapshotter      TEXT NOT NULL DEFAULT '',
          snapshot_key     TEXT NOT NULL DEFAULT '',
          extensions       TEXT NOT NULL DEFAULT '{}',
          sandbox          TEXT NOT NULL DEFAULT '',
          created_at       INTEGER NOT NULL,
          updated_at       INTEGER NOT NULL,
          PRIMARY KEY (namespace, id)
        ) WITHOUT ROWID;
        CREATE INDEX containers_by_sandbox ON containers (namespace, sandbox) WHERE sandbox != '';

        CREATE TABLE leases (
          namespace   TEXT NOT NULL REFERENCES namespaces (name),
          id          TEXT NOT NULL,
          labels      TEXT NOT NULL DEFAULT '{}',
          created_at  INTEGER NOT NULL,
          PRIMARY KEY (namespace, id)
        ) WITHOUT ROWID;

        CREATE TABLE lease_resources (
          namespace  TEXT NOT NULL,
          lease      TEXT NOT NULL,
          type       TEXT NOT NULL,
          id         TEXT NOT NULL,
          PRIMARY KEY (namespace, lease, type, id),
          FOREIGN KEY (namespace, lease) REFERENCES leases (namespace, id) ON DELETE CASCADE
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    // The Sandbox API's store (containerd.types.Sandbox). Created here so the
    // namespace rules (a namespace holding sandboxes cannot be deleted) hold
    // from the start; the store itself comes with the Sandbox API.
    name: "sandboxes",
    up(db) {
      db.exec(`
        CREATE TABLE sandboxes (
          namespace        TEXT NOT NULL REFERENCES namespaces (name),
          id               TEXT NOT NULL,
          runtime_name     TEXT NOT NULL DEFAULT '',
          runtime_options  BLOB,
          spec             BLOB,
          labels           TEXT NOT NULL DEFAULT '{}',
          extensions       TEXT NOT NULL DEFAULT '{}',
          sandboxer        TEXT NOT NULL DEFAULT '',
          created_at       INTEGER NOT NULL,
          updated_at       INTEGER NOT NULL,
          PRIMARY KEY (namespace, id)
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    // What sandboxd knows about the instance a controller made for a sandbox:
    // which controller, whether it was started, its last task endpoint. The
    // row goes at Shutdown; the Store record cannot be deleted while it exists.
    name: "sandbox instances",
    up(db) {
      db.exec(`
        CREATE TABLE sandbox_instances (
          namespace   TEXT NOT NULL,
          id          TEXT NOT NULL,
          sandboxer   TEXT NOT NULL,
          state       TEXT NOT NULL,
          address     TEXT NOT NULL DEFAULT '',
          version     INTEGER NOT NULL DEFAULT 0,
          updated_at  INTEGER NOT NULL,
          PRIMARY KEY (namespace, id),
          FOREIGN KEY (namespace, id) REFERENCES sandboxes (namespace, id)
        ) WITHOUT ROWID;
      `);
    },
  },
];
