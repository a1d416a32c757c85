/**
 * Copies blobs from a registry into a content store (containerd's remotes.FetchHandler +
 * content.Copy): a named ingest per blob, resumed from its offset with HTTP Range after a
 * drop or stall, committed only when size and digest match (so a lying manifest or a bad
 * blob commits nothing). At most `concurrency` blobs download at once, and concurrent
 * pulls of images that share a blob share its one download.
 */
import type { Ctx } from "@sandboxd/core";
import {
  dataLoss,
  isAlreadyExists,
  isUnavailable,
  unavailable,
  wrap,
  messageOf,
} from "@sandboxd/errdefs";
import type { ContentStore, ContentWriter } from "../content/types.js";
import { isTransient, type RegistryClient } from "./client.js";
import { isIndexType, isManifestType, type Descriptor } from "./media-types.js";
import type { Reference } from "./reference.js";

export type BlobState = "waiting" | "downloading" | "retrying" | "verifying" | "done" | "exists";

export interface BlobProgress {
  readonly digest: string;
  readonly mediaType: string;
  readonly state: BlobState;
  readonly offset: number;
  readonly total: number;
  readonly attempt?: number;
  readonly error?: string;
}

export type ProgressFn = (p: BlobProgress) => void;

/** A counting semaphore. */
export class Limiter {
  #free: number;
  readonly #queue: (() => void)[] = [];

  constructor(n: number) {
    this.#free = n;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free -= 1;
    else await new Promise<void>((resolve) => this.#queue.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#queue.shift();
      if (next) next();
      else this.#free += 1;
    }
  }
}

/** The ingest ref containerd uses for a descriptor (`layer-sha256:…`, `manifest-…`, `config-…`). */
export function ingestRef(desc: Descriptor): string {
  if (isManifestType(desc.mediaType)) return `manifest-${desc.digest}`;
  if (isIndexType(desc.mediaType)) return `index-${desc.digest}`;
  if (/config/.test(desc.mediaType)) return `config-${desc.digest}`;
  return `layer-${desc.digest}`;
}

export interface FetcherOptions {
  /** Blobs downloading at once (default 3, containerd's max_concurrent_downloads). */
  readonly concurrency?: number;
}

export class BlobFetcher {
  readonly #limit: Limiter;
  readonly #inflight = new Map<
    string,
    { promise: Promise<"fetched" | "exists">; listeners: Set<ProgressFn> }
  >();

  constructor(options: FetcherOptions = {}) {
    this.#limit = new Limiter(options.concurrency ?? 3);
  }

  /**
   * Makes `desc` present in `store`. Resolves "exists" when it already was; joins a
   * download of the same blob already under way in this process.
   */
  fetch(
    ctx: Ctx,
    client: RegistryClient,
    store: ContentStore,
    ref: Reference,
    desc: Descriptor,
    onProgress?: ProgressFn,
    labels?: Record<string, string>,
  ): Promise<"fetched" | "exists"> {
    const key = `${ctx.namespace ?? ""}/${desc.digest}`;
    const running = this.#inflight.get(key);
    if (running) {
      if (onProgress) running.listeners.add(onProgress);
      return running.promise;
    }
    const listeners = new Set<ProgressFn>(onProgress ? [onProgress] : []);
    const emit = (p: Omit<BlobProgress, "digest" | "mediaType" | "total">): void => {
      for (const l of listeners)
        l({ digest: desc.digest, mediaType: desc.mediaType, total: desc.size, ...p });
    };
    emit({ state: "waiting", offset: 0 });
    const promise = this.#limit
      .run(() => this.#copy(ctx, client, store, ref, desc, emit, labels))
      .finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, { promise, listeners });
    return promise;
  }

  async #open(
    ctx: Ctx,
    client: RegistryClient,
    store: ContentStore,
    desc: Descriptor,
  ): Promise<ContentWriter | undefined> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await store.writer(ctx, {
          ref: ingestRef(desc),
          expected: desc.digest,
          total: desc.size,
        });
      } catch (err) {
        if (isAlreadyExists(err)) return undefined;
        // Another process holds the ingest: wait for it, boundedly.
        if (!isUnavailable(err) || attempt >= 20) throw err;
        await client.backoff(ctx, Math.min(attempt, 3));
      }
    }
  }

  async #copy(
    ctx: Ctx,
    client: RegistryClient,
    store: ContentStore,
    ref: Reference,
    desc: Descriptor,
    emit: (p: Omit<BlobProgress, "digest" | "mediaType" | "total">) => void,
    labels: Record<string, string> | undefined,
  ): Promise<"fetched" | "exists"> {
    const writer = await this.#open(ctx, client, store, desc);
    if (!writer) {
      emit({ state: "exists", offset: desc.size });
      return "exists";
    }
    let offset = writer.offset;
    try {
      for (let attempt = 0; offset < desc.size || offset > desc.size; attempt += 1) {
        if (offset > desc.size) {
          await writer.truncate(0);
          offset = 0;
        }
        emit({ state: attempt === 0 ? "downloading" : "retrying", offset, attempt });
        try {
          const opened = await client.open(ctx, ref, desc, offset);
          if (opened.offset !== offset) {
            await writer.truncate(opened.offset);
            offset = opened.offset;
          }
          let lastEmit = 0;
          for await (const chunk of opened.stream as AsyncIterable<Buffer>) {
            if (offset + chunk.length > desc.size) {
              opened.stream.destroy();
              throw dataLoss(
                `${desc.digest}: the registry sent more than the ${desc.size} bytes the manifest declares`,
              );
            }
            await writer.write(chunk);
            offset += chunk.length;
            if (Date.now() - lastEmit > 100) {
              lastEmit = Date.now();
              emit({ state: "downloading", offset });
            }
          }
          if (offset < desc.size)
            throw unavailable(`connection ended at ${offset} of ${desc.size} bytes`);
        } catch (err) {
          if (!isTransient(err) || attempt + 1 >= client.attempts) {
            throw wrap(
              err,
              `fetching ${desc.digest} from ${ref.domain}/${ref.path} (${offset} of ${desc.size} bytes, attempt ${attempt + 1})`,
            );
          }
          emit({ state: "retrying", offset, attempt: attempt + 1, error: messageOf(err) });
          await client.backoff(ctx, attempt);
        }
      }
      emit({ state: "verifying", offset });
      await writer.commit(desc.size, desc.digest, labels);
    } catch (err) {
      await writer.close().catch(() => undefined);
      // Data that cannot become the blob goes; a transient failure keeps it for a resume.
      if (!isTransient(err) || ctx.signal.aborted)
        await store.abort(ctx, ingestRef(desc)).catch(() => undefined);
      if (isAlreadyExists(err)) return "exists";
      throw err;
    }
    emit({ state: "done", offset: desc.size });
    return "fetched";
  }
}
