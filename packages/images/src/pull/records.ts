/** Pull's image records kept in the images package's ImageStore (SQLite). */
import type { Ctx } from "@sandboxd/core";
import type { ImageStore } from "../content/imagestore.js";
import type { ImageRecords, PullRecord } from "./types.js";

function record(r: PullRecord): Parameters<ImageStore["create"]>[1] {
  return {
    name: r.name,
    labels: { ...r.labels },
    target: {
      mediaType: r.target.mediaType,
      digest: r.target.digest,
      size: r.target.size,
      annotations: { ...r.target.annotations },
    },
  };
}

export function storeRecords(store: ImageStore): ImageRecords {
  return {
    create: (ctx: Ctx, r: PullRecord) => Promise.resolve().then(() => store.create(ctx, record(r))),
    update: (ctx: Ctx, r: PullRecord) =>
      Promise.resolve().then(() => store.update(ctx, record(r), ["target", "labels"])),
  };
}
