/**
 * containerd.services.images.v1 over the images package's ImageStore. Delete
 * runs garbage collection (awaited when `sync` is set, as containerd's
 * ScheduleAndWait). Go clients send zero times as negative seconds; they are
 * ignored (the store sets created/updated).
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Ctx } from "@sandboxd/core";
import { invalidArgument } from "@sandboxd/errdefs";
import type { ImageRecord, ImageStore } from "@sandboxd/images";
import type {
  CreateImageRequest,
  CreateImageResponseSchema,
  DeleteImageRequest,
  GetImageRequest,
  GetImageResponseSchema,
  Image,
  ListImagesRequest,
  ListImagesResponseSchema,
  UpdateImageRequest,
  UpdateImageResponseSchema,
} from "@sandboxd/api/services/images/v1/images_pb";
import { empty, type Empty, type Reply } from "../reply.js";

export class ImagesLocal {
  readonly #store: ImageStore;
  readonly #collect: (ctx: Ctx) => Promise<unknown>;

  constructor(store: ImageStore, collect: (ctx: Ctx) => Promise<unknown>) {
    this.#store = store;
    this.#collect = collect;
  }

  get(ctx: Ctx, req: GetImageRequest): Reply<typeof GetImageResponseSchema> {
    return { image: toProto(this.#store.get(ctx, req.name)) };
  }

  list(ctx: Ctx, req: ListImagesRequest): Reply<typeof ListImagesResponseSchema> {
    return { images: this.#store.list(ctx, req.filters).map(toProto) };
  }

  create(ctx: Ctx, req: CreateImageRequest): Reply<typeof CreateImageResponseSchema> {
    return { image: toProto(this.#store.create(ctx, fromProto(req.image))) };
  }

  update(ctx: Ctx, req: UpdateImageRequest): Reply<typeof UpdateImageResponseSchema> {
    const image = fromProto(req.image);
    return { image: toProto(this.#store.update(ctx, image, req.updateMask?.paths ?? [])) };
  }

  async delete(ctx: Ctx, req: DeleteImageRequest): Promise<Empty> {
    this.#store.delete(ctx, req.name, req.target?.digest);
    const gc = this.#collect(ctx);
    if (req.sync) await gc;
    else gc.catch((err: unknown) => ctx.log.warn({ error: String(err) }, "gc after image delete"));
    return empty;
  }
}

function fromProto(image: Image | undefined): Omit<ImageRecord, "createdAt" | "updatedAt"> {
  if (!image) throw invalidArgument("image must be set");
  return {
    name: image.name,
    labels: { ...image.labels },
    target: {
      mediaType: image.target?.mediaType ?? "",
      digest: image.target?.digest ?? "",
      size: Number(image.target?.size ?? 0n),
      annotations: { ...(image.target?.annotations ?? {}) },
    },
  };
}

function toProto(i: ImageRecord): {
  name: string;
  labels: Record<string, string>;
  target: { mediaType: string; digest: string; size: bigint; annotations: Record<string, string> };
  createdAt: ReturnType<typeof timestampFromDate>;
  updatedAt: ReturnType<typeof timestampFromDate>;
} {
  return {
    name: i.name,
    labels: i.labels,
    target: { ...i.target, size: BigInt(i.target.size) },
    createdAt: timestampFromDate(i.createdAt),
    updatedAt: timestampFromDate(i.updatedAt),
  };
}
