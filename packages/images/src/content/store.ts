/**
 * The content store in containerd's on-disk layout (content/local) with
 * containerd's metadata semantics (metadata/content.go) kept in SQLite:
 *
 *   <root>/blobs/sha256/<hex>                       committed blobs, 0444
 *   <root>/ingest/<sha256(ns/ref)>/{ref,data,startedat,updatedat,total,expected}
 *
 * Blobs are shared across namespaces (containerd's default sharing policy):
 * the file exists once, and each namespace that has it holds a row with its
 * own labels. A blob is visible in a namespace only through its row, which is
 * written after the rename into blobs/, so partial content is never visible.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, mkdir, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import {
  alreadyExists,
  invalidArgument,
  notFound,
  outOfRange,
  unavailable,
} from "@sandboxd/errdefs";
import {
  namespaceRequired,
  parseFieldPaths,
  parseFilters,
  recordAdaptor,
  validateLabels,
  type Ctx,
} from "@sandboxd/core";
import { labelsFromText, labelsToText, type ImagesDb } from "../db.js";
import { digestHex, fsError } from "./digest.js";
import type { ContentInfo, ContentStore, IngestStatus, WriterOptions } from "./types.js";
import { IngestWriter } from "./writer.js";
import { ingestStatus, prepareIngest, readText, readTotal } from "./ingest.js";

/** containerd's plugin directory name for the content store. */
export const contentDir = "io.containerd.content.v1.content";

const readChunk = 1 << 20;

export class LocalContentStore implements ContentStore {
  readonly root: string;
  readonly #db: ImagesDb;
  readonly #locked = new Set<string>();

  constructor(root: string, db: ImagesDb) {
    this.root = root;
    this.#db = db;
  }

  /** Creates the directories. Call once before use. */
  async init(): Promise<void> {
    await mkdir(join(this.root, "blobs", "sha256"), { recursive: true, mode: 0o700 });
    await mkdir(join(this.root, "ingest"), { recursive: true, mode: 0o700 });
  }

  /** Path of a committed blob (whether or not it exists). */
  blobPath(digest: string): string {
    return join(this.root, "blobs", "sha256", digestHex(digest));
  }

  info(ctx: Ctx, digest: string): Promise<ContentInfo> {
    return settle(() => this.#info(namespaceRequired(ctx), digest));
  }

  #info(ns: string, digest: string): ContentInfo {
    digestHex(digest);
    const row = this.#db
      .stmt(
        "SELECT size, created_at, updated_at, labels FROM content_blobs WHERE namespace = ? AND digest = ?",
      )
      .get(ns, digest);
    if (!row) throw notFound(`content digest ${digest}`);
    return {
      digest,
      size: Number(row.size),
      createdAt: new Date(Number(row.created_at)),
      updatedAt: new Date(Number(row.updated_at)),
      labels: labelsFromText(row.labels),
    };
  }

  update(
    ctx: Ctx,
    info: Pick<ContentInfo, "digest" | "labels">,
    fieldpaths: string[] = [],
  ): Promise<ContentInfo> {
    return settle(() => this.#update(ctx, info, fieldpaths));
  }

  #update(
    ctx: Ctx,
    info: Pick<ContentInfo, "digest" | "labels">,
    fieldpaths: string[],
  ): ContentInfo {
    const ns = namespaceRequired(ctx);
    const paths = parseFieldPaths(
      fieldpaths,
      { fields: [], maps: ["labels"] },
      (p) =>
        `cannot update ${JSON.stringify(p)} field on content info ${JSON.stringify(info.digest)}`,
    );
    return this.#db.tx(() => {
      const current = this.#info(ns, info.digest);
      let labels: Record<string, string>;
      if (paths.length === 0) {
        labels = { ...info.labels };
      } else {
        labels = { ...current.labels };
        for (const p of paths) {
          if (p.kind === "field") labels = { ...info.labels };
          else if (Object.hasOwn(info.labels, p.key) && info.labels[p.key] !== "") {
            labels[p.key] = info.labels[p.key] as string;
          } else delete labels[p.key];
        }
      }
      validateLabels(labels, "content.Labels");
      const now = Date.now();
      this.#db
        .stmt(
          "UPDATE content_blobs SET labels = ?, updated_at = ? WHERE namespace = ? AND digest = ?",
        )
        .run(labelsToText(labels), now, ns, info.digest);
      return { ...current, labels, updatedAt: new Date(now) };
    });
  }

  list(ctx: Ctx, filters: string[] = []): Promise<ContentInfo[]> {
    return settle(() => this.listSync(ctx, filters));
  }

  listSync(ctx: Ctx, filters: string[] = []): ContentInfo[] {
    const ns = namespaceRequired(ctx);
    const filter = parseFilters(filters);
    return this.#db
      .stmt(
        "SELECT digest, size, created_at, updated_at, labels FROM content_blobs WHERE namespace = ? ORDER BY digest",
      )
      .all(ns)
      .map((row) => ({
        digest: String(row.digest),
        size: Number(row.size),
        createdAt: new Date(Number(row.created_at)),
        updatedAt: new Date(Number(row.updated_at)),
        labels: labelsFromText(row.labels),
      }))
      .filter((i) => filter(recordAdaptor({ digest: i.digest, size: String(i.size) }, i.labels)));
  }

  async delete(ctx: Ctx, digest: string): Promise<void> {
    const ns = namespaceRequired(ctx);
    digestHex(digest);
    const result = this.#db
      .stmt("DELETE FROM content_blobs WHERE namespace = ? AND digest = ?")
      .run(ns, digest);
    if (result.changes === 0) throw notFound(`content digest ${digest}`);
    await this.removeUnreferencedBlob(digest);
  }

  /** Removes the blob file when no namespace holds it any more. */
  async removeUnreferencedBlob(digest: string): Promise<boolean> {
    if (this.#db.stmt("SELECT 1 FROM content_blobs WHERE digest = ? LIMIT 1").get(digest)) {
      return false;
    }
    try {
      await unlink(this.blobPath(digest));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw fsError(err, `remove content ${digest}`);
    }
  }

  /** Every digest on disk (all namespaces); for garbage collection. */
  async blobsOnDisk(): Promise<string[]> {
    const names = await readdir(join(this.root, "blobs", "sha256")).catch(() => [] as string[]);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  async *read(ctx: Ctx, digest: string, offset = 0, size = 0): AsyncIterable<Uint8Array> {
    const info = await this.info(ctx, digest);
    if (offset < 0 || offset > info.size) {
      throw outOfRange(`read ${digest} at offset ${offset}: size is ${info.size}`);
    }
    const end = size > 0 ? Math.min(info.size, offset + size) : info.size;
    if (end <= offset) return;
    const stream = createReadStream(this.blobPath(digest), {
      start: offset,
      end: end - 1,
      highWaterMark: readChunk,
      signal: ctx.signal,
    });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) yield chunk;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT")
        throw notFound(`content digest ${digest}`);
      throw err;
    }
  }

  /** Whether the blob exists in the caller's namespace. */
  has(ctx: Ctx, digest: string): boolean {
    const ns = namespaceRequired(ctx);
    return !!this.#db
      .stmt("SELECT 1 FROM content_blobs WHERE namespace = ? AND digest = ?")
      .get(ns, digest);
  }

  async writer(ctx: Ctx, options: WriterOptions): Promise<IngestWriter> {
    const ns = namespaceRequired(ctx);
    const { ref } = options;
    if (!ref) throw invalidArgument("ref must not be empty");
    const expected = options.expected ?? "";
    const total = options.total ?? 0;
    if (expected) {
      digestHex(expected);
      if (await this.#linkExisting(ns, expected)) throw alreadyExists(`content ${expected}`);
    }
    const key = `${ns}/${ref}`;
    if (this.#locked.has(key)) throw unavailable(`ref ${ref} locked`);
    this.#locked.add(key);
    const release = (): void => {
      this.#locked.delete(key);
    };
    try {
      const dir = this.#ingestDir(ns, ref);
      await prepareIngest(dir, key, total, expected);
      return await IngestWriter.open({
        ref,
        dir,
        total: total || (await readTotal(dir)),
        expected: expected || (await readText(join(dir, "expected"))),
        release,
        commitBlob: (data, digest, size, labels) =>
          this.#commitBlob(ns, data, digest, size, labels),
      });
    } catch (err) {
      release();
      throw err;
    }
  }

  async status(ctx: Ctx, ref: string): Promise<IngestStatus> {
    const ns = namespaceRequired(ctx);
    const status = await ingestStatus(this.#ingestDir(ns, ref), `${ns}/${ref}`);
    if (!status) throw notFound(`ref ${ref}`);
    return status;
  }

  async listStatuses(ctx: Ctx, filters: string[] = []): Promise<IngestStatus[]> {
    const ns = namespaceRequired(ctx);
    const filter = parseFilters(filters);
    const out: IngestStatus[] = [];
    const ingest = join(this.root, "ingest");
    for (const name of await readdir(ingest).catch(() => [] as string[])) {
      const dir = join(ingest, name);
      const backendRef = await readText(join(dir, "ref"));
      if (!backendRef.startsWith(`${ns}/`)) continue;
      const status = await ingestStatus(dir, backendRef);
      if (status && filter(recordAdaptor({ ref: status.ref }))) out.push(status);
    }
    return out.sort((a, b) => a.ref.localeCompare(b.ref));
  }

  async abort(ctx: Ctx, ref: string): Promise<void> {
    const ns = namespaceRequired(ctx);
    const dir = this.#ingestDir(ns, ref);
    try {
      await stat(dir);
    } catch {
      throw notFound(`ref ${ref}`);
    }
    await rm(dir, { recursive: true, force: true });
  }

  /** Every ingest (all namespaces) as [namespace, ref, startedAt ms]; for garbage collection. */
  async ingests(): Promise<{ namespace: string; ref: string; dir: string; updatedAt: number }[]> {
    const ingest = join(this.root, "ingest");
    const out = [];
    for (const name of await readdir(ingest).catch(() => [] as string[])) {
      const dir = join(ingest, name);
      const backendRef = await readText(join(dir, "ref"));
      const slash = backendRef.indexOf("/");
      if (slash <= 0) continue;
      const st = await stat(join(dir, "data")).catch(() => undefined);
      out.push({
        namespace: backendRef.slice(0, slash),
        ref: backendRef.slice(slash + 1),
        dir,
        updatedAt: st ? st.mtimeMs : 0,
      });
    }
    return out;
  }

  /** Whether an ingest's ref is held by an open writer in this process. */
  isLocked(namespace: string, ref: string): boolean {
    return this.#locked.has(`${namespace}/${ref}`);
  }

  #ingestDir(ns: string, ref: string): string {
    const id = createHash("sha256").update(`${ns}/${ref}`).digest("hex");
    return join(this.root, "ingest", id);
  }

  /** Shared policy: a blob already on disk joins this namespace without data. */
  async #linkExisting(ns: string, digest: string): Promise<boolean> {
    if (
      this.#db
        .stmt("SELECT 1 FROM content_blobs WHERE namespace = ? AND digest = ?")
        .get(ns, digest)
    ) {
      return true;
    }
    const st = await stat(this.blobPath(digest)).catch(() => undefined);
    if (!st) return false;
    // The file may be an orphan of a crash between rename and row: trust it only
    // if another namespace holds it (its row was written after a verified commit).
    if (!this.#db.stmt("SELECT 1 FROM content_blobs WHERE digest = ? LIMIT 1").get(digest)) {
      return false;
    }
    const now = Date.now();
    this.#db
      .stmt(
        "INSERT OR IGNORE INTO content_blobs (namespace, digest, size, created_at, updated_at, labels) VALUES (?, ?, ?, ?, ?, '{}')",
      )
      .run(ns, digest, st.size, now, now);
    return true;
  }

  async #commitBlob(
    ns: string,
    dataPath: string,
    digest: string,
    size: number,
    labels: Record<string, string>,
  ): Promise<void> {
    validateLabels(labels, "content.Labels");
    const target = this.blobPath(digest);
    const exists = this.#db
      .stmt("SELECT 1 FROM content_blobs WHERE digest = ? LIMIT 1")
      .get(digest);
    if (!exists || !(await stat(target).catch(() => undefined))) {
      try {
        await chmod(dataPath, 0o444);
        await rename(dataPath, target);
      } catch (err) {
        throw fsError(err, `commit content ${digest}`);
      }
    }
    const now = Date.now();
    const inserted = this.#db
      .stmt(
        "INSERT OR IGNORE INTO content_blobs (namespace, digest, size, created_at, updated_at, labels) VALUES (?, ?, ?, ?, ?, ?)",
      )
      .run(ns, digest, size, now, now, labelsToText(labels));
    if (inserted.changes === 0) throw alreadyExists(`content ${digest}`);
  }
}

/** Runs a synchronous step as a promise: a throw becomes a rejection. */
function settle<T>(fn: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(fn());
  });
}
