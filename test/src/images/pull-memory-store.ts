/* eslint-disable @typescript-eslint/require-await -- in memory, the async contract has nothing to await */
// A content store in memory for the distribution client's tests, used until the real store
// (packages/images/src/content) lands: it keeps the contract's observable rules (resume
// from the ingest's offset, commit checks size and digest, AlreadyExists for present blobs).
import { createHash } from "node:crypto";
import type { ContentInfo, ContentStore, ContentWriter, IngestStatus } from "@sandboxd/images";
import { alreadyExists, failedPrecondition, notFound, unavailable } from "@sandboxd/errdefs";

export class MemoryStore implements ContentStore {
  readonly blobs = new Map<string, { data: Buffer; labels: Record<string, string> }>();
  readonly ingests = new Map<
    string,
    { data: Buffer[]; expected?: string; total?: number; locked: boolean }
  >();
  readonly opened: { ref: string; offset: number }[] = [];

  async info(_ctx: unknown, digest: string): Promise<ContentInfo> {
    const b = this.blobs.get(digest);
    if (!b) throw notFound(`content ${digest}`);
    return {
      digest,
      size: b.data.length,
      createdAt: new Date(),
      updatedAt: new Date(),
      labels: b.labels,
    };
  }
  async update(_ctx: unknown, info: Pick<ContentInfo, "digest" | "labels">): Promise<ContentInfo> {
    const b = this.blobs.get(info.digest);
    if (!b) throw notFound(`content ${info.digest}`);
    b.labels = { ...info.labels };
    return this.info(_ctx, info.digest);
  }
  async list(): Promise<ContentInfo[]> {
    return Promise.all([...this.blobs.keys()].map((d) => this.info(undefined, d)));
  }
  async delete(_ctx: unknown, digest: string): Promise<void> {
    if (!this.blobs.delete(digest)) throw notFound(`content ${digest}`);
  }
  async *read(_ctx: unknown, digest: string): AsyncIterable<Uint8Array> {
    const b = this.blobs.get(digest);
    if (!b) throw notFound(`content ${digest}`);
    yield b.data;
  }
  async writer(
    _ctx: unknown,
    o: { ref: string; expected?: string; total?: number },
  ): Promise<ContentWriter> {
    if (o.expected && this.blobs.has(o.expected)) throw alreadyExists(`content ${o.expected}`);
    let ingest = this.ingests.get(o.ref);
    if (ingest?.locked) throw unavailable(`ref ${o.ref} locked`);
    if (!ingest) {
      ingest = {
        data: [],
        locked: false,
        ...(o.expected ? { expected: o.expected } : {}),
        ...(o.total ? { total: o.total } : {}),
      };
      this.ingests.set(o.ref, ingest);
    }
    ingest.locked = true;
    const ing = ingest;
    const size = (): number => ing.data.reduce((n, c) => n + c.length, 0);
    this.opened.push({ ref: o.ref, offset: size() });
    const blobs = this.blobs;
    const ingests = this.ingests;
    return {
      ref: o.ref,
      offset: size(),
      async write(chunk) {
        ing.data.push(Buffer.from(chunk));
      },
      digest: () => `sha256:${createHash("sha256").update(Buffer.concat(ing.data)).digest("hex")}`,
      async truncate(offset) {
        const all = Buffer.concat(ing.data).subarray(0, offset);
        ing.data = [Buffer.from(all)];
      },
      async commit(total, expected, labels) {
        const data = Buffer.concat(ing.data);
        if (data.length !== total)
          throw failedPrecondition(`unexpected commit size ${data.length}, expected ${total}`);
        const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
        if (digest !== expected)
          throw failedPrecondition(`unexpected commit digest ${digest}, expected ${expected}`);
        ingests.delete(o.ref);
        if (blobs.has(digest)) throw alreadyExists(`content ${digest}`);
        blobs.set(digest, { data, labels: { ...labels } });
      },
      async close() {
        ing.locked = false;
      },
    };
  }
  async status(_ctx: unknown, ref: string): Promise<IngestStatus> {
    const i = this.ingests.get(ref);
    if (!i) throw notFound(`ingest ${ref}`);
    const offset = i.data.reduce((n, c) => n + c.length, 0);
    return {
      ref,
      offset,
      total: i.total ?? 0,
      expected: i.expected ?? "",
      startedAt: new Date(),
      updatedAt: new Date(),
    };
  }
  async listStatuses(): Promise<IngestStatus[]> {
    return Promise.all([...this.ingests.keys()].map((r) => this.status(undefined, r)));
  }
  async abort(_ctx: unknown, ref: string): Promise<void> {
    if (!this.ingests.delete(ref)) throw notFound(`ingest ${ref}`);
  }
}
