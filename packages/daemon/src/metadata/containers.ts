/**
 * Containers (containerd metadata/containers.go): validation, field-path
 * updates and messages as containerd's; one transaction per write; the
 * namespace comes from the context and is the first key column.
 */
import { Kind, invalidArgument, notFound, wrapAs } from "@sandboxd/errdefs";
import {
  namespaceRequired,
  notFoundText,
  validateIdentifier,
  validateLabels,
  type Ctx,
} from "@sandboxd/core";
import type { MetadataDb } from "./db.js";
import type { NamespaceStore } from "./namespaces.js";
import { RecordTable, type NewRecord } from "./record-table.js";
import { applyPaths, parseUpdatePaths } from "./update.js";
import type { Container } from "./types.js";

/** Paths an update may name beyond labels, extensions and spec. */
const ownUpdatePaths = ["image", "snapshotkey"];
/** With no paths, containerd replaces these. */
const defaultUpdatePaths = ["labels", "spec", "extensions", "image", "snapshotkey"];

export type NewContainer = NewRecord<Container>;

export class ContainerStore {
  readonly #table: RecordTable<Container>;

  constructor(db: MetadataDb, namespaces: NamespaceStore) {
    this.#table = new RecordTable<Container>(db, namespaces, "containers", {
      image: "image",
      snapshotter: "snapshotter",
      snapshotKey: "snapshot_key",
      sandbox: "sandbox",
    });
  }

  get(ctx: Ctx, id: string): Container {
    const ns = namespaceRequired(ctx);
    const container = this.#table.find(ns, id);
    if (!container)
      throw notFound(notFoundText("container", id, ` in namespace ${JSON.stringify(ns)}`));
    return container;
  }

  /** Whether the container exists (no error). */
  has(ctx: Ctx, id: string): boolean {
    return this.#table.has(namespaceRequired(ctx), id);
  }

  /** Ids of the containers that name `sandbox` as theirs. */
  inSandbox(ctx: Ctx, sandbox: string): string[] {
    return this.#table.idsWhere(namespaceRequired(ctx), "sandbox", sandbox);
  }

  list(ctx: Ctx, filters: readonly string[] = []): Container[] {
    return this.#table.list(namespaceRequired(ctx), filters, (c) => ({ image: c.image }));
  }

  create(ctx: Ctx, container: NewContainer): Container {
    const ns = namespaceRequired(ctx);
    try {
      validate(container);
    } catch (err) {
      throw wrapAs(Kind.InvalidArgument, err, "create container failed validation");
    }
    return this.#table.create(ns, container, `container ${JSON.stringify(container.id)}`);
  }

  /**
   * Applies `paths` of `container` to the stored one. With no paths, the
   * default set is replaced and runtime.name/snapshotter must not change.
   */
  update(ctx: Ctx, container: NewContainer, paths: readonly string[] = []): Container {
    const ns = namespaceRequired(ctx);
    if (container.id === "") throw invalidArgument("must specify a container id");
    return this.#table.tx(() => {
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
      const parsed = parseUpdatePaths(
        effective,
        ownUpdatePaths,
        (path) => `cannot update ${JSON.stringify(path)} field on ${JSON.stringify(container.id)}`,
      );
      const next = applyPaths(current, container, parsed, (next, field) => {
        if (field === "image") next.image = container.image;
        else if (field === "snapshotkey") next.snapshotKey = container.snapshotKey;
      });
      try {
        validate(next);
      } catch (err) {
        throw wrapAs(Kind.InvalidArgument, err, "update failed validation");
      }
      return this.#table.replace(ns, next, current);
    });
  }

  delete(ctx: Ctx, id: string): void {
    const ns = namespaceRequired(ctx);
    if (!this.#table.delete(ns, id)) throw notFound(notFoundText("container", id));
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
