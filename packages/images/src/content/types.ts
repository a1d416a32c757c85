// The content store's contract, shared by the store itself (content/), the
// distribution client that fills it (distribution/) and the daemon's
// content.v1 adapter. Mirrors containerd's core/content interfaces: blobs are
// addressed by digest ("sha256:<hex>"), written through a named ingest (`ref`)
// that survives a restart and can be resumed from its offset.
import type { Ctx } from "@sandboxd/core";

/** containerd's content.Info. */
export interface ContentInfo {
  digest: string;
  size: number;
  createdAt: Date;
  updatedAt: Date;
  labels: Record<string, string>;
}

/** containerd's content.Status: an ingest in progress. */
export interface IngestStatus {
  ref: string;
  offset: number;
  total: number;
  expected: string;
  startedAt: Date;
  updatedAt: Date;
}

export interface WriterOptions {
  /** The ingest's name; a second writer on a ref in use is Unavailable (containerd: ErrUnavailable). */
  ref: string;
  /** The digest the committed blob must have, if known. A blob already present is AlreadyExists. */
  expected?: string;
  /** The blob's size, if known. */
  total?: number;
}

/**
 * One ingest. `offset` is where writing resumes (bytes already on disk for this
 * ref, verified by re-hashing them). `commit` verifies size and digest, then
 * makes the blob visible atomically; nothing is visible before it.
 */
export interface ContentWriter {
  readonly ref: string;
  readonly offset: number;
  write(chunk: Uint8Array): Promise<void>;
  /** The digest of what was written so far. */
  digest(): string;
  /** Drops bytes after `offset` (0 restarts the ingest). */
  truncate(offset: number): Promise<void>;
  commit(size: number, expected: string, labels?: Record<string, string>): Promise<void>;
  /** Leaves the ingest on disk for a later resume. */
  close(): Promise<void>;
}

/** The store; every method takes the caller's context (namespace, signal). */
export interface ContentStore {
  info(ctx: Ctx, digest: string): Promise<ContentInfo>;
  update(
    ctx: Ctx,
    info: Pick<ContentInfo, "digest" | "labels">,
    fieldpaths?: string[],
  ): Promise<ContentInfo>;
  list(ctx: Ctx, filters?: string[]): Promise<ContentInfo[]>;
  delete(ctx: Ctx, digest: string): Promise<void>;
  /** Reads a committed blob from `offset`; NotFound when absent. */
  read(ctx: Ctx, digest: string, offset?: number, size?: number): AsyncIterable<Uint8Array>;
  writer(ctx: Ctx, options: WriterOptions): Promise<ContentWriter>;
  status(ctx: Ctx, ref: string): Promise<IngestStatus>;
  listStatuses(ctx: Ctx, filters?: string[]): Promise<IngestStatus[]>;
  abort(ctx: Ctx, ref: string): Promise<void>;
}
