/**
 * Leases (containerd metadata/leases.go). Lease ids are not identifiers
 * (containerd does not validate them: the Go client makes ids such as
 * `1700000000-AbC_`), but must be non-empty. A live lease's resources are
 * garbage-collection roots (the images' collector reads them); deleting a
 * lease deletes its resources with it.
 */
import { randomBytes } from "node:crypto";
import { invalidArgument, notFound, notImplemented } from "@sandboxd/errdefs";
import { namespaceRequired, parseFilters, validateLabels, type Ctx } from "@sandboxd/core";
import { adaptObject } from "./adaptors.js";
import type { MetadataDb } from "./db.js";
import { mapConstraint } from "./db.js";
import { labelsFromText, labelsToText } from "./encoding.js";
import type { NamespaceStore } from "./namespaces.js";
import type { Lease, LeaseResource } from "./types.js";

export class LeaseStore {
  readonly #db: MetadataDb;
  readonly #namespaces: NamespaceStore;

  constructor(db: MetadataDb, namespaces: NamespaceStore) {
    this.#db = db;
    this.#namespaces = namespaces;
  }

  create(ctx: Ctx, id: string, labels: Readonly<Record<string, string>>): Lease {
    const ns = namespaceRequired(ctx);
    const leaseId = id === "" ? randomLeaseId() : id;
    validateLabels(labels, "lease.Labels");
    const lease: Lease = { id: leaseId, labels: { ...labels }, createdAt: Date.now() };
    this.#db.tx(() => {
      this.#namespaces.ensure(ns);
      try {
        this.#db
          .stmt("INSERT INTO leases (namespace, id, labels, created_at) VALUES (?, ?, ?, ?)")
          .run(ns, lease.id, labelsToText(lease.labels), lease.createdAt);
      } catch (err) {
        mapConstraint(err, `lease ${JSON.stringify(lease.id)}`);
      }
    });
    return lease;
  }

  /** Deletes the lease (its resources with it); returns how many resources it held. */
  delete(ctx: Ctx, id: string): number {
    const ns = namespaceRequired(ctx);
    return this.#db.tx(() => {
      const held = this.#db
        .stmt("SELECT COUNT(*) AS n FROM lease_resources WHERE namespace = ? AND lease = ?")
        .get(ns, id) as { n: number };
      const result = this.#db.stmt("DELETE FROM leases WHERE namespace = ? AND id = ?").run(ns, id);
      if (result.changes === 0) throw notFound(`lease ${JSON.stringify(id)}`);
      return Number(held.n);
    });
  }

  list(ctx: Ctx, filters: readonly string[] = []): Lease[] {
    const ns = namespaceRequired(ctx);
    const filter = parseFilters(filters);
    return this.#db
      .stmt("SELECT id, labels, created_at FROM leases WHERE namespace = ? ORDER BY id")
      .all(ns)
      .map((row) => ({
        id: String(row.id),
        labels: labelsFromText(row.labels),
        createdAt: Number(row.created_at),
      }))
      .filter((l) => filter(adaptObject({ id: l.id }, l.labels)));
  }

  addResource(ctx: Ctx, lease: string, resource: LeaseResource): void {
    this.#changeResource(
      ctx,
      lease,
      resource,
      "INSERT OR IGNORE INTO lease_resources (namespace, lease, type, id) VALUES (?, ?, ?, ?)",
    );
  }

  deleteResource(ctx: Ctx, lease: string, resource: LeaseResource): void {
    this.#changeResource(
      ctx,
      lease,
      resource,
      "DELETE FROM lease_resources WHERE namespace = ? AND lease = ? AND type = ? AND id = ?",
    );
  }

  /** Runs `sql` (namespace, lease, type, id) for a valid resource of an existing lease. */
  #changeResource(ctx: Ctx, lease: string, resource: LeaseResource, sql: string): void {
    const ns = namespaceRequired(ctx);
    validateResource(resource);
    this.#db.tx(() => {
      this.#require(ns, lease);
      this.#db.stmt(sql).run(ns, lease, resource.type, resource.id);
    });
  }

  listResources(ctx: Ctx, lease: string): LeaseResource[] {
    const ns = namespaceRequired(ctx);
    this.#require(ns, lease);
    return this.#db
      .stmt(
        "SELECT type, id FROM lease_resources WHERE namespace = ? AND lease = ? ORDER BY type, id",
      )
      .all(ns, lease)
      .map((row) => ({ type: String(row.type), id: String(row.id) }));
  }

  #require(ns: string, lease: string): void {
    if (!this.#db.stmt("SELECT 1 FROM leases WHERE namespace = ? AND id = ?").get(ns, lease)) {
      throw notFound(`lease ${JSON.stringify(lease)}`);
    }
  }
}

/** containerd's id for an unnamed lease: `<nanoseconds>-<base64url of 3 random bytes>`. */
function randomLeaseId(): string {
  const nanos = (
    BigInt(Date.now() % 1000) * 1_000_000n +
    (process.hrtime.bigint() % 1_000_000n)
  ).toString();
  return `${nanos}-${randomBytes(3).toString("base64url")}`;
}

const digestRe = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** containerd's parseLeaseResource: content (a digest), ingests, snapshots/<snapshotter>. */
function validateResource(r: LeaseResource): void {
  if (r.type === "content") {
    if (!digestRe.test(r.id))
      throw invalidArgument(`invalid content digest ${JSON.stringify(r.id)}`);
    return;
  }
  if (r.type === "ingests" || (r.type.startsWith("snapshots/") && r.type.length > 10)) {
    if (r.id === "") throw invalidArgument("resource id must not be empty");
    return;
  }
  throw notImplemented(`unsupported resource type ${r.type}`);
}
