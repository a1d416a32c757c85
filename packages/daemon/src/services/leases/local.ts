/**
 * Leases policy (containerd services/leases/local.go): an empty id gets a
 * generated one. A lease's resources (content, ingests, snapshots) are
 * garbage-collection roots while it lives; Delete runs a collection, awaited
 * with `sync`.
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

  /** `collect` runs garbage collection after a delete (awaited when the request asks `sync`). */
  constructor(store: LeaseStore, collect?: (ctx: Ctx) => Promise<unknown>) {
    this.#store = store;
    this.#collect = collect;
  }

  create(ctx: Ctx, req: CreateRequest): Reply<typeof CreateResponseSchema> {
    return { lease: toProto(this.#store.create(ctx, req.id, req.labels)) };
  }

  async delete(ctx: Ctx, req: DeleteRequest): Promise<Empty> {
    this.#store.delete(ctx, req.id);
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
