/**
 * containerd.services.content.v1 over the images package's content store
 * (containerd services/content/contentserver). Write follows containerd's
 * protocol: the first message names the ref (and may carry total/expected),
 * each request gets exactly one response, WRITE must land at the current
 * offset (offset 0 restarts the ingest), COMMIT verifies size and digest.
 * Everything committed or linked under a lease is added to that lease.
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Ctx } from "@sandboxd/core";
import { invalidArgument, isAlreadyExists, alreadyExists, outOfRange } from "@sandboxd/errdefs";
import type { ContentInfo, IngestStatus, LocalContentStore, IngestWriter } from "@sandboxd/images";
import {
  WriteAction,
  type AbortRequest,
  type DeleteContentRequest,
  type InfoRequest,
  type InfoResponseSchema,
  type ListContentRequest,
  type ListContentResponseSchema,
  type ListStatusesRequest,
  type ListStatusesResponseSchema,
  type ReadContentRequest,
  type ReadContentResponseSchema,
  type StatusRequest,
  type StatusResponseSchema,
  type UpdateRequest,
  type UpdateResponseSchema,
  type WriteContentRequest,
  type WriteContentResponseSchema,
} from "@sandboxd/api/services/content/v1/content_pb";
import { empty, type Empty, type Reply } from "../reply.js";

/** Adds a resource to the caller's lease, if the call carries one. */
export type LeaseAdder = (ctx: Ctx, lease: string | undefined, type: string, id: string) => void;

export class ContentLocal {
  readonly #store: LocalContentStore;
  readonly #addToLease: LeaseAdder;
  readonly #afterDelete: (ctx: Ctx) => void;

  constructor(store: LocalContentStore, addToLease: LeaseAdder, afterDelete: (ctx: Ctx) => void) {
    this.#store = store;
    this.#addToLease = addToLease;
    this.#afterDelete = afterDelete;
  }

  async info(ctx: Ctx, req: InfoRequest): Promise<Reply<typeof InfoResponseSchema>> {
    return { info: infoToProto(await this.#store.info(ctx, req.digest)) };
  }

  async update(ctx: Ctx, req: UpdateRequest): Promise<Reply<typeof UpdateResponseSchema>> {
    if (!req.info) throw invalidArgument("info must be set");
    const info = await this.#store.update(
      ctx,
      { digest: req.info.digest, labels: req.info.labels },
      req.updateMask?.paths ?? [],
    );
    return { info: infoToProto(info) };
  }

  async *list(
    ctx: Ctx,
    req: ListContentRequest,
  ): AsyncIterable<Reply<typeof ListContentResponseSchema>> {
    const all = await this.#store.list(ctx, req.filters);
    for (let i = 0; i < all.length; i += 100) {
      yield { info: all.slice(i, i + 100).map(infoToProto) };
    }
  }

  async delete(ctx: Ctx, req: DeleteContentRequest): Promise<Empty> {
    await this.#store.delete(ctx, req.digest);
    this.#afterDelete(ctx);
    return empty;
  }

  async *read(
    ctx: Ctx,
    req: ReadContentRequest,
  ): AsyncIterable<Reply<typeof ReadContentResponseSchema>> {
    let offset = req.offset;
    for await (const data of this.#store.read(
      ctx,
      req.digest,
      Number(req.offset),
      Number(req.size),
    )) {
      yield { offset, data };
      offset += BigInt(data.byteLength);
    }
  }

  async status(ctx: Ctx, req: StatusRequest): Promise<Reply<typeof StatusResponseSchema>> {
    return { status: statusToProto(await this.#store.status(ctx, req.ref)) };
  }

  async listStatuses(
    ctx: Ctx,
    req: ListStatusesRequest,
  ): Promise<Reply<typeof ListStatusesResponseSchema>> {
    return { statuses: (await this.#store.listStatuses(ctx, req.filters)).map(statusToProto) };
  }

  async abort(ctx: Ctx, req: AbortRequest): Promise<Empty> {
    await this.#store.abort(ctx, req.ref);
    return empty;
  }

  async *write(
    ctx: Ctx,
    lease: string | undefined,
    requests: AsyncIterable<WriteContentRequest>,
  ): AsyncIterable<Reply<typeof WriteContentResponseSchema>> {
    let writer: IngestWriter | undefined;
    let ref = "";
    let total = 0n;
    let expected = "";
    let committed = false;
    try {
      for await (const req of requests) {
        if (!writer) {
          if (!req.ref) throw invalidArgument("first message must have a reference");
          ref = req.ref;
          total = req.total;
          expected = req.expected;
          try {
            writer = await this.#store.writer(ctx, { ref, total: Number(total), expected });
          } catch (err) {
            if (isAlreadyExists(err) && expected) this.#addToLease(ctx, lease, "content", expected);
            throw err;
          }
          this.#addToLease(ctx, lease, "ingests", ref);
        }
        if (req.expected && req.expected !== expected) {
          expected = req.expected;
          if (this.#store.has(ctx, expected)) {
            this.#addToLease(ctx, lease, "content", expected);
            throw alreadyExists(`blob with expected digest ${expected} exists`);
          }
        }
        if (req.total > 0n) {
          total = req.total;
          await writer.setTotal(Number(total));
        }
        if (req.action === WriteAction.STAT) {
          const st = await this.#store.status(ctx, ref);
          yield {
            action: req.action,
            startedAt: timestampFromDate(st.startedAt),
            updatedAt: timestampFromDate(st.updatedAt),
            offset: BigInt(writer.offset),
            total,
            digest: writer.digest(),
          };
          continue;
        }
        if (req.action !== WriteAction.WRITE && req.action !== WriteAction.COMMIT) {
          throw invalidArgument(`unknown write action ${String(req.action)}`);
        }
        if (req.offset > 0n && Number(req.offset) !== writer.offset) {
          throw outOfRange(`write @${req.offset} must occur at current offset ${writer.offset}`);
        }
        if (req.offset === 0n && writer.offset > 0 && req.data.byteLength > 0)
          await writer.truncate(0);
        if (req.data.byteLength > 0) await writer.write(req.data);
        if (req.action === WriteAction.COMMIT) {
          const digest = writer.digest();
          await writer.commit(Number(total), expected, req.labels);
          committed = true;
          this.#addToLease(ctx, lease, "content", digest);
        }
        const now = timestampFromDate(new Date());
        yield {
          action: req.action,
          updatedAt: now,
          offset: BigInt(writer.offset),
          total,
          digest: writer.digest(),
        };
      }
    } finally {
      if (writer && !committed) await writer.close();
    }
  }
}

function infoToProto(i: ContentInfo): {
  digest: string;
  size: bigint;
  createdAt: ReturnType<typeof timestampFromDate>;
  updatedAt: ReturnType<typeof timestampFromDate>;
  labels: Record<string, string>;
} {
  return {
    digest: i.digest,
    size: BigInt(i.size),
    createdAt: timestampFromDate(i.createdAt),
    updatedAt: timestampFromDate(i.updatedAt),
    labels: i.labels,
  };
}

function statusToProto(s: IngestStatus): {
  ref: string;
  offset: bigint;
  total: bigint;
  expected: string;
  startedAt: ReturnType<typeof timestampFromDate>;
  updatedAt: ReturnType<typeof timestampFromDate>;
} {
  return {
    ref: s.ref,
    offset: BigInt(s.offset),
    total: BigInt(s.total),
    expected: s.expected,
    startedAt: timestampFromDate(s.startedAt),
    updatedAt: timestampFromDate(s.updatedAt),
  };
}
