// The real content store (packages/images/src/content) in a temp dir, with the reads the
// pull tests assert on.
import { join } from "node:path";
import type { Ctx } from "@sandboxd/core";
import { isNotFound } from "@sandboxd/errdefs";
import { ImageStore, LocalContentStore, openImagesDb } from "@sandboxd/images";
import { tempDir, type AfterHook } from "@sandboxd/testing";

export interface TestStore {
  readonly store: LocalContentStore;
  readonly imageStore: ImageStore;
  data(digest: string): Promise<Buffer | undefined>;
  labels(digest: string): Promise<Record<string, string> | undefined>;
  count(): Promise<number>;
  ingests(): Promise<number>;
}

export async function openStore(t: AfterHook, ctx: Ctx): Promise<TestStore> {
  const dir = await tempDir(t, "sbx-cs-");
  const db = openImagesDb(join(dir, "meta.db"));
  t.after(() => db.close());
  const store = new LocalContentStore(join(dir, "content"), db);
  await store.init();
  const missing = (err: unknown): undefined => {
    if (isNotFound(err)) return undefined;
    throw err;
  };
  return {
    store,
    imageStore: new ImageStore(db),
    async data(digest) {
      const chunks: Buffer[] = [];
      try {
        for await (const c of store.read(ctx, digest)) chunks.push(Buffer.from(c));
      } catch (err) {
        return missing(err);
      }
      return Buffer.concat(chunks);
    },
    labels: async (digest) => (await store.info(ctx, digest).catch(missing))?.labels,
    count: async () => (await store.list(ctx)).length,
    ingests: async () => (await store.listStatuses(ctx)).length,
  };
}
