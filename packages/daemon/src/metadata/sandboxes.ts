/**
 * Sandboxes (containerd core/metadata/sandbox.go) and their instances: one
 * transaction per write, the namespace from the context as the first key
 * column. Stricter than containerd where its own review asked for it:
 *
 * - `runtime.name` is immutable on every update, whatever the field paths
 *   (containerd checks it only when no paths are given);
 * - `sandboxer` may be changed (path `sandboxer`) only while no controller
 *   holds an instance of the sandbox (containerd never allows it);
 * - ids are validated on every call, not only on create;
 * - a sandbox whose instance still exists cannot be deleted (its pod would
 *   be left without a record).
 */
import { Kind, failedPrecondition, invalidArgument, notFound, wrapAs } from "@sandboxd/errdefs";
import {
  namespaceRequired,
  notFoundText,
  validateIdentifier,
  validateLabels,
  type Ctx,
  type FieldPath,
} from "@sandboxd/core";
import type { MetadataDb } from "./db.js";
import type { NamespaceStore } from "./namespaces.js";
import { RecordTable, type NewRecord, type Row } from "./record-table.js";
import { applyPaths, parseUpdatePaths } from "./update.js";
import type { InstanceState, Sandbox, SandboxInstance } from "./types.js";

/** Paths an update may name beyond labels, extensions and spec. */
const ownUpdatePaths = ["runtime", "sandboxer"];
/** With no paths, containerd replaces these (never `sandboxer`). */
const defaultUpdatePaths = ["labels", "extensions", "spec", "runtime"];

export type NewSandbox = NewRecord<Sandbox>;

export class SandboxStore {
  readonly #db: MetadataDb;
  readonly #table: RecordTable<Sandbox>;

  constructor(db: MetadataDb, namespaces: NamespaceStore) {
    this.#db = db;
    this.#table = new RecordTable<Sandbox>(db, namespaces, "sandboxes", { sandboxer: "sandboxer" });
  }

  get(ctx: Ctx, id: string): Sandbox {
    const ns = namespaceRequired(ctx);
    validateId(id);
    const sandbox = this.#table.find(ns, id);
    if (!sandbox) throw notFound(notFoundText("sandbox", id));
    return sandbox;
  }

  /** The sandbox, or undefined (no error). */
  find(ctx: Ctx, id: string): Sandbox | undefined {
    return this.#table.find(namespaceRequired(ctx), id);
  }

  /** Filters: `id`, `labels.KEY`, `runtime.name`, `sandboxer` (containerd filter syntax). */
  list(ctx: Ctx, filters: readonly string[] = []): Sandbox[] {
    return this.#table.list(namespaceRequired(ctx), filters, (s) => ({ sandboxer: s.sandboxer }));
  }

  create(ctx: Ctx, sandbox: NewSandbox): Sandbox {
    const ns = namespaceRequired(ctx);
    validate(sandbox, "create sandbox failed validation");
    return this.#table.create(ns, sandbox, `sandbox ${JSON.stringify(sandbox.id)}`);
  }

  /**
   * Applies `paths` of `sandbox` to the stored one; with none, labels,
   * extensions, spec and runtime (options) are replaced. runtime.name never
   * changes: a request naming another runtime is InvalidArgument.
   */
  update(ctx: Ctx, sandbox: NewSandbox, paths: readonly string[] = []): Sandbox {
    const ns = namespaceRequired(ctx);
    validateId(sandbox.id);
    const effective = paths.length === 0 ? defaultUpdatePaths : paths;
    const describe = (path: string): string =>
      `cannot update ${JSON.stringify(path)} field on sandbox ${JSON.stringify(sandbox.id)}`;
    // runtime's own fields are paths too (the map rule would read them as map keys).
    const parsed: FieldPath[] = effective.map((path) =>
      path === "runtime.name" || path === "runtime.options"
        ? { kind: "field", field: path }
        : (parseUpdatePaths([path], ownUpdatePaths, describe)[0] as FieldPath),
    );
    const touchesRuntime = effective.some((p) => p === "runtime" || p.startsWith("runtime."));
    return this.#db.tx(() => {
      const current = this.get(ctx, sandbox.id);
      // An empty name in an update that does not touch the runtime is "not given".
      if (
        (touchesRuntime || sandbox.runtime.name !== "") &&
        sandbox.runtime.name !== current.runtime.name
      ) {
        throw invalidArgument(
          `sandbox.Runtime.Name field is immutable (sandbox ${JSON.stringify(sandbox.id)} runs ${JSON.stringify(current.runtime.name)}, not ${JSON.stringify(sandbox.runtime.name)})`,
        );
      }
      const next = applyPaths(current, sandbox, parsed, (next, field) => {
        switch (field) {
          case "runtime":
          case "runtime.options":
            next.runtime = { name: current.runtime.name, options: sandbox.runtime.options };
            break;
          case "sandboxer":
            if (sandbox.sandboxer !== current.sandboxer) {
              const instance = this.#instance(ns, sandbox.id);
              if (instance) {
                throw failedPrecondition(
                  `cannot change the sandboxer of sandbox ${JSON.stringify(sandbox.id)} from ${JSON.stringify(current.sandboxer || instance.sandboxer)} to ${JSON.stringify(sandbox.sandboxer)} while it has an instance: shut it down first`,
                );
              }
            }
            next.sandboxer = sandbox.sandboxer;
            break;
          // runtime.name: checked above, never changed.
        }
      });
      validate(next, "update sandbox failed validation");
      return this.#table.replace(ns, next, current);
    });
  }

  /** Sets the sandboxer of a record that has none (the controller chosen at Create). */
  fillSandboxer(ctx: Ctx, id: string, sandboxer: string): Sandbox {
    const ns = namespaceRequired(ctx);
    return this.#db.tx(() => {
      const current = this.get(ctx, id);
      if (current.sandboxer !== "" || sandboxer === "") return current;
      return this.#table.replace(ns, { ...current, sandboxer }, current);
    });
  }

  /** Deletes the record; FailedPrecondition while an instance exists. */
  delete(ctx: Ctx, id: string): void {
    const ns = namespaceRequired(ctx);
    validateId(id);
    this.#db.tx(() => {
      const instance = this.#instance(ns, id);
      if (instance) {
        throw failedPrecondition(
          `sandbox ${JSON.stringify(id)} still has an instance in sandboxer ${JSON.stringify(instance.sandboxer)}: shut it down first (Controller.Shutdown)`,
        );
      }
      if (!this.#table.delete(ns, id)) throw notFound(notFoundText("sandbox", id));
    });
  }

  // ---- instances ----

  instance(ctx: Ctx, id: string): SandboxInstance | undefined {
    return this.#instance(namespaceRequired(ctx), id);
  }

  /** Records (or replaces) the instance of an existing sandbox. */
  putInstance(
    ctx: Ctx,
    id: string,
    instance: { sandboxer: string; state: InstanceState; address?: string; version?: number },
  ): SandboxInstance {
    const ns = namespaceRequired(ctx);
    const now = Date.now();
    return this.#db.tx(() => {
      this.get(ctx, id);
      const previous = this.#instance(ns, id);
      const next: SandboxInstance = {
        id,
        sandboxer: instance.sandboxer,
        state: instance.state,
        address: instance.address ?? previous?.address ?? "",
        version: instance.version ?? previous?.version ?? 0,
        updatedAt: now,
      };
      this.#db
        .stmt(
          "INSERT OR REPLACE INTO sandbox_instances (namespace, id, sandboxer, state, address, version, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .run(ns, id, next.sandboxer, next.state, next.address, next.version, next.updatedAt);
      return next;
    });
  }

  /** Records a new endpoint for an instance (no-op when it has none or it is unchanged). */
  setEndpoint(ctx: Ctx, id: string, address: string, version: number): void {
    const ns = namespaceRequired(ctx);
    this.#db
      .stmt(
        "UPDATE sandbox_instances SET address = ?, version = ?, updated_at = ? WHERE namespace = ? AND id = ? AND (address != ? OR version != ?)",
      )
      .run(address, version, Date.now(), ns, id, address, version);
  }

  deleteInstance(ctx: Ctx, id: string): void {
    const ns = namespaceRequired(ctx);
    this.#db.stmt("DELETE FROM sandbox_instances WHERE namespace = ? AND id = ?").run(ns, id);
  }

  /** Every instance in every namespace (restart). */
  allInstances(): (SandboxInstance & { namespace: string })[] {
    return this.#db
      .stmt(
        "SELECT namespace, id, sandboxer, state, address, version, updated_at FROM sandbox_instances ORDER BY namespace, id",
      )
      .all()
      .map((row) => ({ namespace: String(row.namespace), ...instanceFromRow(row) }));
  }

  #instance(ns: string, id: string): SandboxInstance | undefined {
    const row = this.#db
      .stmt(
        "SELECT id, sandboxer, state, address, version, updated_at FROM sandbox_instances WHERE namespace = ? AND id = ?",
      )
      .get(ns, id);
    return row ? instanceFromRow(row) : undefined;
  }
}

/** InvalidArgument naming the id, for any call (Go checks only on create). */
function validateId(id: string): void {
  if (id === "") throw invalidArgument("sandbox id must not be empty");
  try {
    validateIdentifier(id);
  } catch (err) {
    throw wrapAs(Kind.InvalidArgument, err, "invalid sandbox ID");
  }
}

function validate(s: NewSandbox | Sandbox, context: string): void {
  try {
    validateId(s.id);
    for (const key of Object.keys(s.extensions)) {
      if (key === "") throw invalidArgument("sandbox.Extension keys must not be zero-length");
    }
    validateLabels(s.labels, "sandbox.Labels");
  } catch (err) {
    throw wrapAs(Kind.InvalidArgument, err, context);
  }
}

function instanceFromRow(row: Row): SandboxInstance {
  return {
    id: String(row.id),
    sandboxer: String(row.sandboxer),
    state: String(row.state) as InstanceState,
    address: String(row.address),
    version: Number(row.version),
    updatedAt: Number(row.updated_at),
  };
}
