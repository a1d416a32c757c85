import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { background, withNamespace } from "@sandboxd/core";
import {
  isAlreadyExists,
  isFailedPrecondition,
  isInvalidArgument,
  isOutOfRange,
} from "@sandboxd/errdefs";
import { LocalContentStore, openImagesDb, emptyDigest } from "@sandboxd/images";
import {
  WriteAction,
  WriteContentRequestSchema,
  type WriteContentRequest,
} from "@sandboxd/api/services/content/v1/content_pb";
import { ContentLocal } from "./local.js";

const ctx = withNamespace(background(), "default");
const sha = (b: Uint8Array): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;

async function withLocal(
  fn: (local: ContentLocal, leased: string[][]) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "sbxd-content-svc-"));
  const db = openImagesDb(join(dir, "meta.db"));
  const store = new LocalContentStore(join(dir, "content"), db);
  await store.init();
  const leased: string[][] = [];
  const local = new ContentLocal(
    store,
    (_ctx, lease, type, id) => {
      if (lease) leased.push([lease, type, id]);
    },
    () => undefined,
  );
  try {
    await fn(local, leased);
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function* msgs(list: Partial<WriteContentRequest>[]): AsyncIterable<WriteContentRequest> {
  for (const m of list) yield await Promise.resolve(create(WriteContentRequestSchema, m as never));
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test("Write: STAT, WRITE, COMMIT with one reply each, as ctr 1.6 sends them; lease gets the blob", async () => {
  await withLocal(async (local, leased) => {
    const data = Buffer.from("manifest bytes");
    const replies = await collect(
      local.write(
        ctx,
        "lease-1",
        msgs([
          { ref: "manifest-x", total: BigInt(data.length), expected: sha(data) },
          { action: WriteAction.STAT },
          { action: WriteAction.WRITE, data },
          {
            action: WriteAction.COMMIT,
            total: BigInt(data.length),
            expected: sha(data),
            offset: BigInt(data.length),
          },
        ]),
      ),
    );
    assert.equal(replies.length, 4);
    assert.equal(replies[0]?.digest, emptyDigest);
    assert.equal(replies[0]?.offset, 0n);
    assert.equal(replies[2]?.offset, BigInt(data.length));
    assert.equal(replies[3]?.digest, sha(data));
    assert.deepEqual(leased.at(-1), ["lease-1", "content", sha(data)]);
    assert.equal(
      (await local.info(ctx, { digest: sha(data) } as never)).info?.size,
      BigInt(data.length),
    );
    // The same expected digest again: AlreadyExists before any data moves.
    await assert.rejects(
      collect(local.write(ctx, undefined, msgs([{ ref: "again", expected: sha(data) }]))),
      isAlreadyExists,
    );
  });
});

test("Write: first message needs a ref; gaps are OutOfRange; offset 0 restarts; bad commits fail", async () => {
  await withLocal(async (local) => {
    await assert.rejects(
      collect(local.write(ctx, undefined, msgs([{ action: WriteAction.STAT }]))),
      isInvalidArgument,
    );
    const a = Buffer.from("aaaa");
    await assert.rejects(
      collect(
        local.write(
          ctx,
          undefined,
          msgs([
            { ref: "r", action: WriteAction.WRITE, data: a },
            { action: WriteAction.WRITE, offset: 10n, data: a },
          ]),
        ),
      ),
      (e) => isOutOfRange(e) && /write @10 must occur at current offset 4/.test(String(e)),
    );
    // Resume: the ref kept its 4 bytes; offset 0 with data restarts it.
    const st = await local.status(ctx, { ref: "r" } as never);
    assert.equal(st.status?.offset, 4n);
    const b = Buffer.from("bb");
    const replies = await collect(
      local.write(
        ctx,
        undefined,
        msgs([
          { ref: "r", action: WriteAction.STAT },
          { action: WriteAction.WRITE, offset: 0n, data: b },
          { action: WriteAction.COMMIT, total: 2n },
        ]),
      ),
    );
    assert.equal(replies[0]?.offset, 4n);
    assert.equal(replies[2]?.digest, sha(b));
    await assert.rejects(
      collect(
        local.write(
          ctx,
          undefined,
          msgs([
            { ref: "c", action: WriteAction.WRITE, data: a },
            { action: WriteAction.COMMIT, total: 5n },
          ]),
        ),
      ),
      isFailedPrecondition,
    );
    assert.deepEqual(
      (await local.listStatuses(ctx, { filters: [""] } as never)).statuses?.map((s) => s.ref),
      ["c"],
    );
    await local.abort(ctx, { ref: "c" } as never);
    assert.deepEqual((await local.listStatuses(ctx, { filters: [] } as never)).statuses, []);
  });
});
