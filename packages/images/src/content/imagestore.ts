/**
 * Image records (containerd metadata/images.go): a name per namespace pointing
 * at a target descriptor in the content store, with labels. Kept in SQLite
 * (`images`).
 */
import { alreadyExists, invalidArgument, notFound, messageOf } from "@sandboxd/errdefs";
import {
  applyMapKey,
  namespaceRequired,
  parseFieldPaths,
  parseFilters,
  recordAdaptor,
  validateLabels,
  type Ctx,
} from "@sandboxd/core";
import { labelsFromText, labelsToText, type ImagesDb } from "../db.js";
import { digestHex } from "./digest.js";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations: Record<string, string>;
}

export interface ImageRecord {
  name: string;
  labels: Record<string, string>;
  target: Descriptor;
  createdAt: Date;
  updatedAt: Date;
}

export class ImageStore {
  readonly #db: ImagesDb;

  constructor(db: ImagesDb) {
    this.#db = db;
  }

  get(ctx: Ctx, name: string): ImageRecord {
    const ns = namespaceRequired(ctx);
    const row = this.#db
      .stmt("SELECT * FROM images WHERE namespace = ? AND name = ?")
      .get(ns, name);
    if (!row) throw notFound(`image ${JSON.stringify(name)}`);
    return fromRow(row);
  }

  list(ctx: Ctx, filters: string[] = []): ImageRecord[] {
    const ns = namespaceRequired(ctx);
    const filter = parseFilters(filters);
    return this.#db
      .stmt("SELECT * FROM images WHERE namespace = ? ORDER BY name")
      .all(ns)
      .map(fromRow)
      .filter((i) =>
        filter(
          recordAdaptor(
            {
              name: i.name,
              "target.digest": i.target.digest,
              "target.mediatype": i.target.mediaType,
            },
            i.labels,
          ),
        ),
      );
  }

  create(ctx: Ctx, image: Omit<ImageRecord, "createdAt" | "updatedAt">): ImageRecord {
    const ns = namespaceRequired(ctx);
    validate(image);
    const now = Date.now();
    return this.#db.tx(() => {
      if (
        this.#db.stmt("SELECT 1 FROM images WHERE namespace = ? AND name = ?").get(ns, image.name)
      ) {
        throw alreadyExists(`image ${JSON.stringify(image.name)}`);
      }
      this.#write(ns, { ...image, createdAt: new Date(now), updatedAt: new Date(now) });
      return this.get(ctx, image.name);
    });
  }

  update(
    ctx: Ctx,
    image: Omit<ImageRecord, "createdAt" | "updatedAt">,
    fieldpaths: string[] = [],
  ): ImageRecord {
    const ns = namespaceRequired(ctx);
    const paths = parseFieldPaths(
      fieldpaths,
      { fields: ["target"], maps: ["labels", "annotations"] },
      (p) => `cannot update ${JSON.stringify(p)} field on image ${JSON.stringify(image.name)}`,
    );
    return this.#db.tx(() => {
      const current = this.get(ctx, image.name);
      let next: ImageRecord;
      if (paths.length === 0) {
        next = { ...image, createdAt: current.createdAt, updatedAt: new Date() };
      } else {
        next = {
          ...current,
          labels: { ...current.labels },
          target: { ...current.target, annotations: { ...current.target.annotations } },
          updatedAt: new Date(),
        };
        for (const p of paths) {
          if (p.kind === "field") {
            if (p.field === "target") next.target = { ...image.target };
            else if (p.field === "labels") next.labels = { ...image.labels };
            else next.target.annotations = { ...image.target.annotations };
          } else {
            const to = p.field === "labels" ? next.labels : next.target.annotations;
            const from = p.field === "labels" ? image.labels : image.target.annotations;
            applyMapKey(to, from, p.key);
          }
        }
      }
      validate(next);
      this.#write(ns, next);
      return this.get(ctx, image.name);
    });
  }

  delete(ctx: Ctx, name: string, target?: string): void {
    const ns = namespaceRequired(ctx);
    this.#db.tx(() => {
      const current = this.get(ctx, name);
      if (target && current.target.digest !== target) {
        throw notFound(`image ${JSON.stringify(name)} with target ${target}`);
      }
      this.#db.stmt("DELETE FROM images WHERE namespace = ? AND name = ?").run(ns, name);
    });
  }

  /** Every image of every namespace; for garbage collection. */
  all(): { namespace: string; image: ImageRecord }[] {
    return this.#db
      .stmt("SELECT * FROM images")
      .all()
      .map((row) => ({ namespace: String(row.namespace), image: fromRow(row) }));
  }

  #write(ns: string, i: ImageRecord): void {
    this.#db
      .stmt(
        `INSERT INTO images (namespace, name, labels, media_type, digest, size, annotations, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (namespace, name) DO UPDATE SET labels = excluded.labels, media_type = excluded.media_type,
           digest = excluded.digest, size = excluded.size, annotations = excluded.annotations, updated_at = excluded.updated_at`,
      )
      .run(
        ns,
        i.name,
        labelsToText(i.labels),
        i.target.mediaType,
        i.target.digest,
        i.target.size,
        labelsToText(i.target.annotations),
        i.createdAt.getTime(),
        i.updatedAt.getTime(),
      );
  }
}

function validate(i: Omit<ImageRecord, "createdAt" | "updatedAt">): void {
  if (!i.name) throw invalidArgument("image name must not be empty");
  validateLabels(i.labels, "image.Labels");
  if (!i.target.mediaType)
    throw invalidArgument(`image ${JSON.stringify(i.name)}: target mediatype must not be empty`);
  try {
    digestHex(i.target.digest);
  } catch (err) {
    throw invalidArgument(`image ${JSON.stringify(i.name)}: target digest: ${messageOf(err)}`);
  }
}

function fromRow(r: Record<string, unknown>): ImageRecord {
  return {
    name: String(r.name),
    labels: labelsFromText(r.labels),
    target: {
      mediaType: String(r.media_type),
      digest: String(r.digest),
      size: Number(r.size),
      annotations: labelsFromText(r.annotations),
    },
    createdAt: new Date(Number(r.created_at)),
    updatedAt: new Date(Number(r.updated_at)),
  };
}
