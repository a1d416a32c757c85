/**
 * Leases policy (containerd services/leases/local.go): an empty id gets a
 * generated one. A lease's resources (content, ingests, snapshots) are
 * garbage-collection roots while it lives. Delete runs a collection (awaited
 * with `sync`) when it may have freed something: the lease held resources, or
 * a resource was taken off a lease since the last collection. An empty lease
 * (ctr's per-command lease, which `ctr run --rootfs` fills with nothing) frees
 * nothing, so it costs no collection, as containerd's scheduler does not
 * collect after every delete either (metadata/gc thresholds).
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Ctx } from "@sandboxd/core";
import type {
  AddResourceRequest,
  CreateRequest,
  CreateResponseSchema,
  DeleteRequest,
  DeleteResourceRequest,
  ListRequest,
  ListResourcesRequest,
  ListResourcesResponseSchema,
  ListResponseSchema,
} from "@sandboxd/api/services/leases/v1/leases_pb";
import type { LeaseStore } from "../../metadata/leases.js";
import type { Lease } from "../../metadata/types.js";
import { empty, type Empty, type Reply } from "../reply.js";

export class LeasesLocal {
  readonly #store: LeaseStore;
  readonly #collect: ((ctx: Ctx) => Promise<unknown>) | undefined;
  /** A resource left a lease (DeleteResource) and no collection has run since. */
  #dirty = false;

  /** `collect` runs garbage collection after a delete (awaited when the request asks `sync`). */
  constructor(store: LeaseStore, collect?: (ctx: Ctx) => Promise<unknown>) {
    this.#store = store;
    this.#collect = collect;
  }

  create(ctx: Ctx, req: CreateRequest): Reply<typeof CreateResponseSchema> {
    return { lease: toProto(this.#store.create(ctx, req.id, req.labels)) };
  }

  async delete(ctx: Ctx, req: DeleteRequest): Promise<Empty> {
    const held = this.#store.delete(ctx, req.id);
    if (held === 0 && !this.#dirty && !req.sync) return empty;
    this.#dirty = false;
    const gc = this.#collect?.(ctx);
    if (req.sync) await gc;
    else gc?.catch((err: unknown) => ctx.log.warn({ error: String(err) }, "gc after lease delete"));
    return empty;
  }

  list(ctx: Ctx, req: ListRequest): Reply<typeof ListResponseSchema> {
    return { leases: this.#store.list(ctx, req.filters).map(toProto) };
  }

  addResource(ctx: Ctx, req: AddResourceRequest): Empty {
    this.#store.addResource(ctx, req.id, {
      id: req.resource?.id ?? "",
      type: req.resource?.type ?? "",
    });
    return empty;
  }

  deleteResource(ctx: Ctx, req: DeleteResourceRequest): Empty {
    this.#store.deleteResource(ctx, req.id, {
      id: req.resource?.id ?? "",
      type: req.resource?.type ?? "",
    });
    this.#dirty = true;
    return empty;
  }

  listResources(ctx: Ctx, req: ListResourcesRequest): Reply<typeof ListResourcesResponseSchema> {
    return { resources: this.#store.listResources(ctx, req.id) };
  }
}

function toProto(lease: Lease): {
  id: string;
  labels: Record<string, string>;
  createdAt: ReturnType<typeof timestampFromMs>;
} {
  return { id: lease.id, labels: lease.labels, createdAt: timestampFromMs(lease.createdAt) };
}
