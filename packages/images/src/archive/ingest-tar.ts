/**
 * Reads an image archive (a tar stream) into content-store ingests without
 * committing anything: every regular file but the layout's own JSON files
 * (`oci-layout`, `index.json`, `manifest.json`, `repositories`) goes to an
 * ingest while its digest is computed; a file named `blobs/sha256/<hex>` must
 * hash to that name. The caller validates what the archive describes and only
 * then commits (`commitAll`) or drops every ingest (`abortAll`), so a corrupt
 * archive leaves nothing visible. Small files are also kept in memory, because
 * manifests, indexes and configs are read before they are committed.
 */
import { randomBytes } from "node:crypto";
import { posix } from "node:path";
import type { Ctx } from "@sandboxd/core";
import { dataLoss, invalidArgument, isAlreadyExists, messageOf } from "@sandboxd/errdefs";
import type { ContentStore, ContentWriter } from "../content/types.js";
import { maxManifestSize } from "../distribution/media-types.js";
import { TarParser, TypeFlag, type TarHeader } from "../unpack/tar.js";

/** The layout files read as JSON (containerd's importer reads at most 20 MiB of each). */
const layoutFiles = new Set(["oci-layout", "index.json", "manifest.json", "repositories"]);
const jsonLimit = 20 * 1024 * 1024;
/** Total bytes of small blobs kept in memory for reading before commit. */
const keptLimit = 128 * 1024 * 1024;
const blobName = /^blobs\/sha256\/([a-f0-9]{64})$/;

export interface ArchiveBlob {
  readonly digest: string;
  readonly size: number;
  /** Already in the store before this import (nothing to commit). */
  readonly present: boolean;
}

interface Pending {
  readonly writer: ContentWriter;
  readonly digest: string;
  readonly size: number;
}

type Event =
  { kind: "header"; header: TarHeader } | { kind: "data"; chunk: Buffer } | { kind: "end" };

export class ArchiveIngest {
  readonly #ctx: Ctx;
  readonly #store: ContentStore;
  readonly #id = `import-${Date.now()}-${randomBytes(4).toString("hex")}`;
  /** Archive path (cleaned) → blob. */
  readonly blobs = new Map<string, ArchiveBlob>();
  /** Layout file name → its bytes. */
  readonly layout = new Map<string, Buffer>();
  /** Symlink path → the path it names (docker archives link shared layers). */
  readonly symlinks = new Map<string, string>();
  readonly #pending = new Map<string, Pending>();
  readonly #kept = new Map<string, Buffer>();
  /** The first bytes of each blob, for compression detection. */
  readonly #heads = new Map<string, Buffer>();
  /** Digests named by the archive that the store already had. */
  readonly presentDigests = new Set<string>();
  #keptBytes = 0;

  constructor(ctx: Ctx, store: ContentStore) {
    this.#ctx = ctx;
    this.#store = store;
  }

  /** Consumes the whole archive; on any error every ingest is dropped. */
  async read(source: AsyncIterable<Uint8Array>): Promise<void> {
    const events: Event[] = [];
    const parser = new TarParser({
      header: (header) => events.push({ kind: "header", header }),
      // The parser hands out views of its input: copy, since they are used after push returns.
      data: (chunk) => events.push({ kind: "data", chunk: Buffer.from(chunk) }),
      end: () => events.push({ kind: "end" }),
    });
    let entry: EntryState | undefined;
    try {
      for await (const chunk of source) {
        if (parser.done) continue;
        parser.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        for (const e of events.splice(0)) {
          if (e.kind === "header") entry = await this.#begin(e.header);
          else if (e.kind === "data") await entry?.data(e.chunk);
          else {
            await entry?.end();
            entry = undefined;
          }
        }
        this.#ctx.signal?.throwIfAborted();
      }
      if (entry) throw invalidArgument(`archive is truncated inside ${entry.name}`);
      if (parser.entries === 0) throw invalidArgument("archive is empty or not a tar file");
    } catch (err) {
      await entry?.drop();
      await this.abortAll();
      throw err;
    }
  }

  /** The bytes of a blob of this archive or of the store, for JSON documents. */
  async bytes(digest: string, what: string): Promise<Buffer> {
    const kept = this.#kept.get(digest);
    if (kept) return kept;
    if (this.#pending.has(digest)) {
      throw invalidArgument(`${what} ${digest} is too large to read from the archive`);
    }
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (const c of this.#store.read(this.#ctx, digest)) {
      size += c.length;
      if (size > maxManifestSize) throw invalidArgument(`${what} ${digest} is too large`);
      parts.push(c);
    }
    return Buffer.concat(parts);
  }

  /** Up to 8 leading bytes of a blob (zero-filled when shorter). */
  async head(digest: string): Promise<Buffer> {
    let head = this.#heads.get(digest);
    if (!head) {
      const parts: Uint8Array[] = [];
      for await (const c of this.#store.read(this.#ctx, digest, 0, 8)) parts.push(c);
      head = Buffer.concat(parts);
    }
    return Buffer.concat([head, Buffer.alloc(8)]).subarray(0, 8);
  }

  /** Whether `digest` is in this archive or already in the store, and its size. */
  async sizeOf(digest: string): Promise<number | undefined> {
    const pending = this.#pending.get(digest);
    if (pending) return pending.size;
    for (const b of this.blobs.values()) if (b.digest === digest) return b.size;
    try {
      return (await this.#store.info(this.#ctx, digest)).size;
    } catch {
      return undefined;
    }
  }

  /** Commits every ingest, with the labels given per digest. */
  async commitAll(labels: ReadonlyMap<string, Record<string, string>>): Promise<void> {
    for (const [digest, p] of this.#pending) {
      try {
        await p.writer.commit(p.size, p.digest, labels.get(digest) ?? {});
      } catch (err) {
        await p.writer.close().catch(() => undefined);
        if (!isAlreadyExists(err)) {
          await this.abortAll();
          throw err;
        }
      }
      this.#pending.delete(digest);
    }
  }

  async abortAll(): Promise<void> {
    for (const p of this.#pending.values()) {
      await p.writer.close().catch(() => undefined);
      await this.#store.abort(this.#ctx, p.writer.ref).catch(() => undefined);
    }
    this.#pending.clear();
  }

  /** Digests this import commits (not those already present). */
  get committing(): string[] {
    return [...this.#pending.keys()];
  }

  async #begin(h: TarHeader): Promise<EntryState | undefined> {
    const name = posix
      .normalize(h.name)
      .replace(/^(\.\/|\/)+/, "")
      .replace(/\/$/, "");
    if (h.type === TypeFlag.Symlink) {
      this.symlinks.set(name, posix.join(posix.dirname(name), h.linkname));
      return undefined;
    }
    const regular =
      h.type === TypeFlag.File || h.type === TypeFlag.OldFile || h.type === TypeFlag.Contiguous;
    if (!regular) return undefined;
    if (layoutFiles.has(name)) {
      if (h.size > jsonLimit) throw invalidArgument(`archive file ${name} is over 20 MiB`);
      const parts: Buffer[] = [];
      return {
        name,
        data: (chunk) => void parts.push(chunk),
        end: () => void this.layout.set(name, Buffer.concat(parts)),
        drop: () => undefined,
      };
    }
    return this.#blob(name, h.size);
  }

  async #blob(name: string, size: number): Promise<EntryState> {
    const m = blobName.exec(name);
    const expected = m ? `sha256:${m[1]}` : undefined;
    const ref = `${this.#id}/${name}`;
    let writer: ContentWriter;
    try {
      writer = await this.#store.writer(this.#ctx, {
        ref,
        total: size,
        ...(expected ? { expected } : {}),
      });
    } catch (err) {
      if (!expected || !isAlreadyExists(err)) throw err;
      // Present already: the digest names the bytes, so the data is skipped.
      this.blobs.set(name, { digest: expected, size, present: true });
      this.presentDigests.add(expected);
      return { name, data: () => undefined, end: () => undefined, drop: () => undefined };
    }
    const keep = size <= maxManifestSize && this.#keptBytes + size <= keptLimit;
    const parts: Buffer[] = [];
    let written = 0;
    let head = Buffer.alloc(0);
    const drop = async (): Promise<void> => {
      await writer.close().catch(() => undefined);
      await this.#store.abort(this.#ctx, ref).catch(() => undefined);
    };
    return {
      name,
      data: async (chunk) => {
        try {
          await writer.write(chunk);
        } catch (err) {
          await drop();
          throw invalidArgument(`archive file ${name}: ${messageOf(err)}`, { cause: err });
        }
        written += chunk.length;
        if (keep) parts.push(chunk);
        if (head.length < 8) head = Buffer.concat([head, chunk.subarray(0, 8 - head.length)]);
      },
      end: async () => {
        const digest = writer.digest();
        if (written !== size) {
          await drop();
          throw dataLoss(`archive file ${name}: ${written} bytes, its header says ${size}`);
        }
        if (expected && digest !== expected) {
          await drop();
          throw dataLoss(
            `archive file ${name} is corrupt: its content has digest ${digest}, not ${expected}`,
          );
        }
        const twin = this.#pending.get(digest);
        if (twin) {
          // The same bytes twice (docker archives may repeat a layer): one ingest is enough.
          await drop();
        } else {
          this.#pending.set(digest, { writer, digest, size });
        }
        if (keep && !this.#kept.has(digest)) {
          this.#kept.set(digest, Buffer.concat(parts));
          this.#keptBytes += size;
        }
        this.#heads.set(digest, head);
        this.blobs.set(name, { digest, size, present: false });
      },
      drop,
    };
  }
}

interface EntryState {
  readonly name: string;
  data(chunk: Buffer): Promise<void> | void;
  end(): Promise<void> | void;
  drop(): Promise<void> | void;
}
