import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { background, withNamespace } from "@sandboxd/core";
import {
  AddResourceRequestSchema,
  CreateRequestSchema,
  DeleteRequestSchema,
  DeleteResourceRequestSchema,
} from "@sandboxd/api/services/leases/v1/leases_pb";
import { isNotFound } from "@sandboxd/errdefs";
import { openMetadata } from "../../metadata/metadata.js";
import { LeasesLocal } from "./local.js";

const ctx = withNamespace(background(), "ns");

async function withLeases(
  fn: (leases: LeasesLocal, collections: () => number) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "sbxd-leases-"));
  const m = openMetadata(join(dir, "meta.db"));
  let n = 0;
  try {
    await fn(new LeasesLocal(m.leases, () => Promise.resolve(n++)), () => n);
  } finally {
    m.db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const resource = { id: "sha256:" + "a".repeat(64), type: "content" };

test("deleting a lease collects only when it may have freed something", async () => {
  await withLeases(async (leases, collections) => {
    // ctr's per-command lease, left empty by `ctr run --rootfs`: nothing to collect.
    leases.create(ctx, create(CreateRequestSchema, { id: "empty" }));
    await leases.delete(ctx, create(DeleteRequestSchema, { id: "empty", sync: false }));
    assert.equal(collections(), 0);

    leases.create(ctx, create(CreateRequestSchema, { id: "held" }));
    leases.addResource(ctx, create(AddResourceRequestSchema, { id: "held", resource }));
    await leases.delete(ctx, create(DeleteRequestSchema, { id: "held", sync: false }));
    assert.equal(collections(), 1);

    // A resource taken off a lease is collected at the next delete, even of an empty lease.
    leases.create(ctx, create(CreateRequestSchema, { id: "a" }));
    leases.create(ctx, create(CreateRequestSchema, { id: "b" }));
    leases.addResource(ctx, create(AddResourceRequestSchema, { id: "a", resource }));
    leases.deleteResource(ctx, create(DeleteResourceRequestSchema, { id: "a", resource }));
    await leases.delete(ctx, create(DeleteRequestSchema, { id: "b", sync: false }));
    assert.equal(collections(), 2);
    await leases.delete(ctx, create(DeleteRequestSchema, { id: "a", sync: false }));
    assert.equal(collections(), 2);

    // `sync` asks for a collection whatever the lease held.
    leases.create(ctx, create(CreateRequestSchema, { id: "s" }));
    await leases.delete(ctx, create(DeleteRequestSchema, { id: "s", sync: true }));
    assert.equal(collections(), 3);

    await assert.rejects(
      leases.delete(ctx, create(DeleteRequestSchema, { id: "s", sync: false })),
      isNotFound,
    );
    assert.equal(collections(), 3);
  });
});
