/**
 * containerd.services.snapshots.v1 over the images package's snapshotters
 * (overlayfs default, native). Snapshots made under a lease are added to it
 * (type `snapshots/<snapshotter>`); Remove runs garbage collection afterwards.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Ctx } from "@sandboxd/core";
import { invalidArgument, notFound } from "@sandboxd/errdefs";
import type { DirSnapshotter, SnapshotInfo } from "@sandboxd/images";
import type {
  Kind,
  CleanupRequest,
  CommitSnapshotRequest,
  ListSnapshotsRequest,
  ListSnapshotsResponseSchema,
  MountsRequest,
  MountsResponseSchema,
  PrepareSnapshotRequest,
  PrepareSnapshotResponseSchema,
  RemoveSnapshotRequest,
  StatSnapshotRequest,
  StatSnapshotResponseSchema,
  UpdateSnapshotRequest,
  UpdateSnapshotResponseSchema,
  UsageRequest,
  UsageResponseSchema,
  ViewSnapshotRequest,
  ViewSnapshotResponseSchema,
} from "@sandboxd/api/services/snapshots/v1/snapshots_pb";
import type { LeaseAdder } from "../content/local.js";
import { empty, type Empty, type Reply } from "../reply.js";

export class SnapshotsLocal {
  readonly #snapshotters: Map<string, DirSnapshotter>;
  readonly #addToLease: LeaseAdder;
  readonly #afterDelete: (ctx: Ctx) => void;

  constructor(
    snapshotters: Map<string, DirSnapshotter>,
    addToLease: LeaseAdder,
    afterDelete: (ctx: Ctx) => void,
  ) {
    this.#snapshotters = snapshotters;
    this.#addToLease = addToLease;
    this.#afterDelete = afterDelete;
  }

  async prepare(
    ctx: Ctx,
    lease: string | undefined,
    req: PrepareSnapshotRequest,
  ): Promise<Reply<typeof PrepareSnapshotResponseSchema>> {
    const s = this.#get(req.snapshotter);
    const mounts = await s.prepare(ctx, req.key, req.parent, req.labels);
    this.#addToLease(ctx, lease, `snapshots/${s.name}`, req.key);
    return { mounts };
  }

  async view(
    ctx: Ctx,
    lease: string | undefined,
    req: ViewSnapshotRequest,
  ): Promise<Reply<typeof ViewSnapshotResponseSchema>> {
    const s = this.#get(req.snapshotter);
    const mounts = await s.view(ctx, req.key, req.parent, req.labels);
    this.#addToLease(ctx, lease, `snapshots/${s.name}`, req.key);
    return { mounts };
  }

  mounts(ctx: Ctx, req: MountsRequest): Reply<typeof MountsResponseSchema> {
    return { mounts: this.#get(req.snapshotter).mounts(ctx, req.key) };
  }

  async commit(ctx: Ctx, lease: string | undefined, req: CommitSnapshotRequest): Promise<Empty> {
    const s = this.#get(req.snapshotter);
    if (req.parent && s.stat(ctx, req.key).parent !== req.parent) {
      throw invalidArgument(`snapshot ${req.key} does not have parent ${req.parent}`);
    }
    await s.commit(ctx, req.name, req.key, req.labels);
    this.#addToLease(ctx, lease, `snapshots/${s.name}`, req.name);
    return empty;
  }

  async remove(ctx: Ctx, req: RemoveSnapshotRequest): Promise<Empty> {
    await this.#get(req.snapshotter).remove(ctx, req.key);
    this.#afterDelete(ctx);
    return empty;
  }

  stat(ctx: Ctx, req: StatSnapshotRequest): Reply<typeof StatSnapshotResponseSchema> {
    return { info: toProto(this.#get(req.snapshotter).stat(ctx, req.key)) };
  }

  update(ctx: Ctx, req: UpdateSnapshotRequest): Reply<typeof UpdateSnapshotResponseSchema> {
    if (!req.info) throw invalidArgument("info must be set");
    const info = this.#get(req.snapshotter).update(
      ctx,
      { name: req.info.name, labels: req.info.labels },
      req.updateMask?.paths ?? [],
    );
    return { info: toProto(info) };
  }

  async *list(
    ctx: Ctx,
    req: ListSnapshotsRequest,
  ): AsyncIterable<Reply<typeof ListSnapshotsResponseSchema>> {
    const all = this.#get(req.snapshotter).walk(ctx, req.filters);
    for (let i = 0; i < all.length; i += 100) yield { info: all.slice(i, i + 100).map(toProto) };
    await Promise.resolve();
  }

  async usage(ctx: Ctx, req: UsageRequest): Promise<Reply<typeof UsageResponseSchema>> {
    const u = await this.#get(req.snapshotter).usage(ctx, req.key);
    return { size: BigInt(u.size), inodes: BigInt(u.inodes) };
  }

  async cleanup(ctx: Ctx, req: CleanupRequest): Promise<Empty> {
    await this.#get(req.snapshotter).cleanup(ctx);
    return empty;
  }

  #get(name: string): DirSnapshotter {
    const s = this.#snapshotters.get(name || "overlayfs");
    if (!s) throw notFound(`snapshotter ${JSON.stringify(name)} was not found`);
    return s;
  }
}

function toProto(i: SnapshotInfo): {
  name: string;
  parent: string;
  kind: Kind;
  createdAt: ReturnType<typeof timestampFromDate>;
  updatedAt: ReturnType<typeof timestampFromDate>;
  labels: Record<string, string>;
} {
  return {
    name: i.name,
    parent: i.parent,
    kind: i.kind,
    createdAt: timestampFromDate(i.createdAt),
    updatedAt: timestampFromDate(i.updatedAt),
    labels: i.labels,
  };
}
