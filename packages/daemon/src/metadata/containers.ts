/**
 * Containers (containerd metadata/containers.go): validation, field-path
 * updates and messages as containerd's; one transaction per write; the
 * namespace comes from the context and is the first key column.
 */
import { Kind, invalidArgument, notFound, wrapAs } from "@sandboxd/errdefs";
import {
  namespaceRequired,
  parseFieldPaths,
  parseFilters,
  validateIdentifier,
  validateLabels,
  type Ctx,
} from "@sandboxd/core";
import { adaptObject } from "./adaptors.js";
import type { MetadataDb } from "./db.js";
import {
  anyFromBlob,
  anyMapFromText,
  anyMapToText,
  anyToBlob,
  labelsFromText,
  labelsToText,
} from "./encoding.js";
import type { NamespaceStore } from "./namespaces.js";
import { RecordTable, type Row } from "./record-table.js";
import { applyMapPath } from "./update.js";
import type { Container } from "./types.js";

const columns = [
  "id",
  "labels",
  "image",
  "runtime_name",
  "runtime_options",
  "spec",
  "snapshotter",
  "snapshot_key",
  "extensions",
  "sandbox",
  "created_at",
  "updated_at",
];

/** Paths an update may name; with none, containerd uses the default set below. */
const updateRules = {
  fields: ["spec", "image", "snapshotkey"],
  maps: ["labels", "extensions"],
} as const;
const defaultUpdatePaths = ["labels", "spec", "extensions", "image", "snapshotkey"];

export type NewContainer = Omit<Container, "createdAt" | "updatedAt">;

export class ContainerStore {
  readonly #db: MetadataDb;
  readonly #namespaces: NamespaceStore;
  readonly #table: RecordTable<Container>;

  constructor(db: MetadataDb, namespaces: NamespaceStore) {
    this.#db = db;
    this.#namespaces = namespaces;
    this.#table = new RecordTable(db, "containers", columns, { toRow, fromRow });
  }

  get(ctx: Ctx, id: string): Container {
    const ns = namespaceRequired(ctx);
    const container = this.#table.find(ns, id);
    if (!container)
      throw notFound(`container ${JSON.stringify(id)} in namespace ${JSON.stringify(ns)}`);
    return container;
  }

  /** Whether the container exists (no error). */
  has(ctx: Ctx, id: string): boolean {
    const ns = namespaceRequired(ctx);
    return (
      this.#db.stmt("SELECT 1 FROM containers WHERE namespace = ? AND id = ?").get(ns, id) !==
      undefined
    );
  }

  /** Ids of the containers that name `sandbox` as theirs. */
  inSandbox(ctx: Ctx, sandbox: string): string[] {
    const ns = namespaceRequired(ctx);
    return this.#db
      .stmt("SELECT id FROM containers WHERE namespace = ? AND sandbox = ? ORDER BY id")
      .all(ns, sandbox)
      .map((row) => String(row.id));
  }

  list(ctx: Ctx, filters: readonly string[] = []): Container[] {
    const ns = namespaceRequired(ctx);
    const filter = parseFilters(filters);
    return this.#table
      .list(ns)
      .filter((c) =>
        filter(adaptObject({ id: c.id, "runtime.name": c.runtime.name, image: c.image }, c.labels)),
      );
  }

  create(ctx: Ctx, container: NewContainer): Container {
    const ns = namespaceRequired(ctx);
    try {
      validate(container);
    } catch (err) {
      throw wrapAs(Kind.InvalidArgument, err, "create container failed validation");
    }
    const now = Date.now();
    const created: Container = { ...container, createdAt: now, updatedAt: now };
    this.#db.tx(() => {
      this.#namespaces.ensure(ns);
      this.#table.insert(ns, created, `container ${JSON.stringify(container.id)}`);
    });
    return created;
  }

  /**
   * Applies `paths` of `container` to the stored one. With no paths, the
   * default set is replaced and runtime.name/snapshotter must not change.
   */
  update(ctx: Ctx, container: NewContainer, paths: readonly string[] = []): Container {
    const ns = namespaceRequired(ctx);
    if (container.id === "") throw invalidArgument("must specify a container id");
    return this.#db.tx(() => {
      const current = this.get(ctx, container.id);
      let effective = paths;
      if (paths.length === 0) {
        effective = defaultUpdatePaths;
        if (current.snapshotter !== container.snapshotter) {
          throw invalidArgument("container.Snapshotter field is immutable");
        }
        if (current.runtime.name !== container.runtime.name) {
          throw invalidArgument("container.Runtime.Name field is immutable");
        }
      }
      const parsed = parseFieldPaths(
        effective,
        updateRules,
        (path) => `cannot update ${JSON.stringify(path)} field on ${JSON.stringify(container.id)}`,
      );
      const next: Container = {
        ...current,
        labels: { ...current.labels },
        extensions: { ...current.extensions },
      };
      for (const path of parsed) {
        if (applyMapPath(next, container, path)) continue;
        switch (path.field) {
          case "spec":
            next.spec = container.spec;
            break;
          case "image":
            next.image = container.image;
            break;
          case "snapshotkey":
            next.snapshotKey = container.snapshotKey;
            break;
        }
      }
      try {
        validate(next);
      } catch (err) {
        throw wrapAs(Kind.InvalidArgument, err, "update failed validation");
      }
      next.updatedAt = Math.max(Date.now(), current.updatedAt);
      this.#table.replace(ns, next);
      return next;
    });
  }

  delete(ctx: Ctx, id: string): void {
    const ns = namespaceRequired(ctx);
    if (!this.#table.delete(ns, id)) throw notFound(`container ${id}`);
  }
}

/** containerd's validateContainer. */
function validate(c: NewContainer): void {
  try {
    validateIdentifier(c.id);
  } catch (err) {
    throw wrapAs(Kind.InvalidArgument, err, "container.ID");
  }
  for (const key of Object.keys(c.extensions)) {
    if (key === "") throw invalidArgument("container.Extension keys must not be zero-length");
  }
  validateLabels(c.labels, "containers.Labels");
  if (c.runtime.name === "") throw invalidArgument("container.Runtime.Name must be set");
  if (c.spec === undefined) throw invalidArgument("container.Spec must be set");
  if (c.snapshotKey !== "" && c.snapshotter === "") {
    throw invalidArgument("container.Snapshotter must be set if container.SnapshotKey is set");
  }
}

function toRow(c: Container): (string | number | Uint8Array | null)[] {
  return [
    c.id,
    labelsToText(c.labels),
    c.image,
    c.runtime.name,
    anyToBlob(c.runtime.options),
    anyToBlob(c.spec),
    c.snapshotter,
    c.snapshotKey,
    anyMapToText(c.extensions),
    c.sandbox,
    c.createdAt,
    c.updatedAt,
  ];
}

function fromRow(row: Row): Container {
  return {
    id: String(row.id),
    labels: labelsFromText(row.labels),
    image: String(row.image),
    runtime: { name: String(row.runtime_name), options: anyFromBlob(row.runtime_options) },
    spec: anyFromBlob(row.spec),
    snapshotter: String(row.snapshotter),
    snapshotKey: String(row.snapshot_key),
    extensions: anyMapFromText(row.extensions),
    sandbox: String(row.sandbox),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
