/**
 * One ingest on disk (containerd content/local writer.go): the bytes go to
 * `ingest/<id>/data` while a sha256 runs over them; `commit` checks size and
 * digest, fsyncs, and renames `data` into `blobs/sha256/<hex>` (mode 0444), so
 * a blob is either absent or complete. A writer reopened on the same ref
 * re-hashes the data already there and resumes at its end.
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rm, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { failedPrecondition, invalidArgument, isAlreadyExists } from "@sandboxd/errdefs";
import type { ContentWriter } from "./types.js";
import { fsError } from "./digest.js";

/** What the store does once the bytes are verified: make the blob visible. */
export type CommitBlob = (
  dataPath: string,
  digest: string,
  size: number,
  labels: Record<string, string>,
) => Promise<void>;

export interface IngestWriterInit {
  ref: string;
  dir: string;
  total: number;
  expected: string;
  commitBlob: CommitBlob;
  release: () => void;
}

export class IngestWriter implements ContentWriter {
  readonly ref: string;
  readonly #dir: string;
  readonly #fh: FileHandle;
  readonly #commitBlob: CommitBlob;
  readonly #release: () => void;
  #hash: Hash;
  #offset: number;
  #total: number;
  readonly #expected: string;
  #closed = false;

  private constructor(init: IngestWriterInit, fh: FileHandle, hash: Hash, offset: number) {
    this.ref = init.ref;
    this.#dir = init.dir;
    this.#fh = fh;
    this.#hash = hash;
    this.#offset = offset;
    this.#total = init.total;
    this.#expected = init.expected;
    this.#commitBlob = init.commitBlob;
    this.#release = init.release;
  }

  /** Opens the ingest's data file (created if needed) and hashes what it holds. */
  static async open(init: IngestWriterInit): Promise<IngestWriter> {
    const dataPath = join(init.dir, "data");
    let fh: FileHandle;
    try {
      fh = await open(dataPath, "a+", 0o644);
    } catch (err) {
      throw fsError(err, `open ingest ${JSON.stringify(init.ref)}`);
    }
    try {
      const { hash, size } = await hashFile(dataPath);
      return new IngestWriter(init, fh, hash, size);
    } catch (err) {
      await fh.close();
      throw fsError(err, `resume ingest ${JSON.stringify(init.ref)}`);
    }
  }

  get offset(): number {
    return this.#offset;
  }

  get total(): number {
    return this.#total;
  }

  get expected(): string {
    return this.#expected;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#checkOpen();
    if (chunk.byteLength === 0) return;
    let written = 0;
    try {
      while (written < chunk.byteLength) {
        const { bytesWritten } = await this.#fh.write(
          chunk,
          written,
          chunk.byteLength - written,
          this.#offset + written,
        );
        written += bytesWritten;
      }
    } catch (err) {
      // Keep the hash and the file in step: drop what did get written.
      await this.#fh.truncate(this.#offset).catch(() => undefined);
      throw fsError(err, `write ingest ${JSON.stringify(this.ref)}`);
    }
    this.#hash.update(chunk);
    this.#offset += chunk.byteLength;
  }

  digest(): string {
    return `sha256:${this.#hash.copy().digest("hex")}`;
  }

  async truncate(offset: number): Promise<void> {
    this.#checkOpen();
    if (offset < 0 || offset > this.#offset) {
      throw invalidArgument(
        `truncate ingest ${JSON.stringify(this.ref)} to ${offset}: beyond ${this.#offset}`,
      );
    }
    await this.#fh.truncate(offset);
    if (offset === 0) {
      this.#hash = createHash("sha256");
    } else {
      this.#hash = (await hashFile(join(this.#dir, "data"), offset)).hash;
    }
    this.#offset = offset;
  }

  /** Records a total learnt after the writer opened (a later Write message). */
  async setTotal(total: number): Promise<void> {
    if (total <= 0 || total === this.#total) return;
    this.#total = total;
    await writeFile(join(this.#dir, "total"), String(total)).catch((err: unknown) => {
      throw fsError(err, `ingest ${JSON.stringify(this.ref)}`);
    });
  }

  async commit(size: number, expected: string, labels: Record<string, string> = {}): Promise<void> {
    this.#checkOpen();
    if (size > 0 && size !== this.#offset) {
      throw failedPrecondition(
        `commit ${JSON.stringify(this.ref)}: unexpected commit size ${this.#offset}, expected ${size}`,
      );
    }
    if (size <= 0 && this.#total > 0 && this.#total !== this.#offset) {
      throw failedPrecondition(
        `commit ${JSON.stringify(this.ref)}: unexpected commit size ${this.#offset}, expected ${this.#total}`,
      );
    }
    const digest = this.digest();
    const want = expected || this.#expected;
    if (want && want !== digest) {
      throw failedPrecondition(
        `commit ${JSON.stringify(this.ref)}: unexpected commit digest ${digest}, expected ${want}`,
      );
    }
    try {
      await this.#fh.sync();
    } catch (err) {
      throw fsError(err, `sync ingest ${JSON.stringify(this.ref)}`);
    }
    await this.#closeHandle();
    try {
      await this.#commitBlob(join(this.#dir, "data"), digest, this.#offset, labels);
    } catch (err) {
      if (isAlreadyExists(err)) await rm(this.#dir, { recursive: true, force: true });
      throw err;
    }
    await rm(this.#dir, { recursive: true, force: true });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    const now = new Date().toISOString();
    await writeFile(join(this.#dir, "updatedat"), now).catch(() => undefined);
    await this.#closeHandle();
  }

  async #closeHandle(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    await this.#fh.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw failedPrecondition(`ingest ${JSON.stringify(this.ref)} is closed`);
  }
}

/** sha256 of the first `limit` bytes of `path` (all when undefined) and how many were read. */
async function hashFile(path: string, limit?: number): Promise<{ hash: Hash; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  if (limit === 0) return { hash, size };
  const stream = createReadStream(path, {
    highWaterMark: 1 << 20,
    ...(limit !== undefined ? { end: limit - 1 } : {}),
  });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { hash, size };
}
