// Image records through images.v1: get, list, delete, tag (a second name for a target).
import { invalidArgument } from "@sandboxd/errdefs";
import type { Image } from "@sandboxd/api/services/images/v1/images_pb";
import type { CallOptions } from "./call-options.js";
import { toDate } from "./convert.js";
import type { Session } from "./session.js";

export interface ImageInfo {
  name: string;
  labels: Record<string, string>;
  target: { mediaType: string; digest: string; size: number; annotations: Record<string, string> };
  createdAt: Date | undefined;
  updatedAt: Date | undefined;
}

function infoOf(i: Image | undefined): ImageInfo {
  if (!i) throw invalidArgument("the daemon returned no image");
  return {
    name: i.name,
    labels: { ...i.labels },
    target: {
      mediaType: i.target?.mediaType ?? "",
      digest: i.target?.digest ?? "",
      size: Number(i.target?.size ?? 0),
      annotations: { ...i.target?.annotations },
    },
    createdAt: toDate(i.createdAt),
    updatedAt: toDate(i.updatedAt),
  };
}

export async function getImage(
  session: Session,
  name: string,
  call?: CallOptions,
): Promise<ImageInfo> {
  const r = await session.services.images.get({ name }, session.call(call));
  return infoOf(r.image);
}

export async function listImages(
  session: Session,
  filters: readonly string[] = [],
  call?: CallOptions,
): Promise<ImageInfo[]> {
  const r = await session.services.images.list({ filters: [...filters] }, session.call(call));
  return r.images.map(infoOf);
}

/** Removes a name; with `sync` the daemon collects what is no longer referenced before answering. */
export async function deleteImage(
  session: Session,
  name: string,
  options: { sync?: boolean } = {},
  call?: CallOptions,
): Promise<void> {
  await session.services.images.delete({ name, sync: options.sync ?? false }, session.call(call));
}

/** Gives the image `source` a second name `target` (AlreadyExists when taken). */
export async function tagImage(
  session: Session,
  source: string,
  target: string,
  call?: CallOptions,
): Promise<ImageInfo> {
  const src = await session.services.images.get({ name: source }, session.call(call));
  if (!src.image) throw invalidArgument(`image "${source}": the daemon returned no image`);
  const r = await session.services.images.create(
    { image: { name: target, labels: src.image.labels, target: src.image.target } },
    session.call(call),
  );
  return infoOf(r.image);
}
