import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { background, withNamespace, type Ctx } from "@sandboxd/core";
import {
  isAlreadyExists,
  isFailedPrecondition,
  isNotFound,
  isOutOfRange,
  isResourceExhausted,
  isUnavailable,
  messageOf,
} from "@sandboxd/errdefs";
import { openImagesDb } from "../db.js";
import { emptyDigest } from "./digest.js";
import { LocalContentStore } from "./store.js";

const sha = (b: Uint8Array): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const ns = (name: string): Ctx => withNamespace(background(), name);

async function withStore(
  fn: (s: LocalContentStore, root: string) => Promise<void>,
  root?: string,
): Promise<void> {
  const dir = root ?? (await mkdtemp(join(tmpdir(), "sbxd-content-")));
  const db = openImagesDb(join(dir, "meta.db"));
  const store = new LocalContentStore(join(dir, "content"), db);
  await store.init();
  try {
    await fn(store, join(dir, "content"));
  } finally {
    db.close();
    if (!root) await rm(dir, { recursive: true, force: true });
  }
}

async function readAll(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

test("write, commit, info, read: containerd's layout and nothing left in ingest", async () => {
  await withStore(async (store, root) => {
    const ctx = ns("default");
    const data = randomBytes(3 << 20);
    const w = await store.writer(ctx, { ref: "layer-1", total: data.length, expected: sha(data) });
    assert.equal(w.offset, 0);
    assert.equal(w.digest(), emptyDigest);
    const ingestDirs = await readdir(join(root, "ingest"));
    assert.equal(ingestDirs.length, 1);
    const files = (await readdir(join(root, "ingest", ingestDirs[0] as string))).sort();
    assert.deepEqual(files, ["data", "expected", "ref", "startedat", "total", "updatedat"]);
    await w.write(data.subarray(0, 1000));
    await w.write(data.subarray(1000));
    await w.commit(data.length, sha(data), { a: "b" });
    const blob = join(root, "blobs", "sha256", sha(data).slice(7));
    assert.equal((await stat(blob)).mode & 0o777, 0o444);
    assert.deepEqual(await readdir(join(root, "ingest")), []);
    const info = await store.info(ctx, sha(data));
    assert.equal(info.size, data.length);
    assert.deepEqual(info.labels, { a: "b" });
    assert.ok((await readAll(store.read(ctx, sha(data)))).equals(data));
    const part = await readAll(store.read(ctx, sha(data), 100, 50));
    assert.ok(part.equals(data.subarray(100, 150)));
    const chunks: number[] = [];
    for await (const c of store.read(ctx, sha(data))) chunks.push(c.byteLength);
    assert.ok(chunks.every((n) => n <= 1 << 20));
    await assert.rejects(readAll(store.read(ctx, sha(data), data.length + 1)), isOutOfRange);
  });
});

test("resume: a reopened ref re-hashes its data and continues at its offset", async () => {
  await withStore(async (store) => {
    const ctx = ns("default");
    const data = randomBytes(100_000);
    const w1 = await store.writer(ctx, { ref: "r", total: data.length });
    await w1.write(data.subarray(0, 40_000));
    await w1.close();
    const st = await store.status(ctx, "r");
    assert.equal(st.offset, 40_000);
    assert.equal(st.total, data.length);
    const w2 = await store.writer(ctx, { ref: "r" });
    assert.equal(w2.offset, 40_000);
    assert.equal(w2.digest(), sha(data.subarray(0, 40_000)));
    await w2.write(data.subarray(40_000));
    await w2.commit(0, "");
    assert.equal((await store.info(ctx, sha(data))).size, data.length);
    await assert.rejects(store.status(ctx, "r"), isNotFound);
  });
});

test("one writer per ref; truncate restarts; abort removes the ingest", async () => {
  await withStore(async (store) => {
    const ctx = ns("default");
    const w = await store.writer(ctx, { ref: "x" });
    await assert.rejects(store.writer(ctx, { ref: "x" }), isUnavailable);
    // Another namespace has its own ref space.
    const other = await store.writer(ns("other"), { ref: "x" });
    await other.close();
    await w.write(Buffer.from("hello"));
    await w.truncate(2);
    assert.equal(w.digest(), sha(Buffer.from("he")));
    await w.truncate(0);
    assert.equal(w.offset, 0);
    await w.write(Buffer.from("abc"));
    await w.close();
    assert.deepEqual(
      (await store.listStatuses(ctx)).map((s) => [s.ref, s.offset]),
      [["x", 3]],
    );
    await store.abort(ctx, "x");
    await assert.rejects(store.abort(ctx, "x"), isNotFound);
    assert.deepEqual(await store.listStatuses(ctx), []);
  });
});

test("commit verifies size and digest and leaves nothing visible on mismatch", async () => {
  await withStore(async (store, root) => {
    const ctx = ns("default");
    const data = Buffer.from("some content");
    const w = await store.writer(ctx, { ref: "bad" });
    await w.write(data);
    await assert.rejects(w.commit(data.length + 1, ""), (e) => {
      assert.ok(isFailedPrecondition(e));
      assert.match(messageOf(e), /unexpected commit size 12, expected 13/);
      return true;
    });
    await assert.rejects(w.commit(data.length, sha(Buffer.from("other"))), (e) => {
      assert.ok(isFailedPrecondition(e));
      assert.match(messageOf(e), /unexpected commit digest/);
      return true;
    });
    assert.deepEqual(await readdir(join(root, "blobs", "sha256")), []);
    await assert.rejects(store.info(ctx, sha(data)), isNotFound);
    await w.close();
    // A writer whose `expected` disagrees with the bytes fails the same way.
    const w2 = await store.writer(ctx, { ref: "bad2", expected: sha(Buffer.from("x")) });
    await w2.write(data);
    await assert.rejects(w2.commit(0, ""), isFailedPrecondition);
    await w2.close();
  });
});

test("expected blob present: AlreadyExists; shared across namespaces with per-namespace labels", async () => {
  await withStore(async (store) => {
    const a = ns("a");
    const b = ns("b");
    const data = Buffer.from("shared blob");
    const w = await store.writer(a, { ref: "r", expected: sha(data) });
    await w.write(data);
    await w.commit(data.length, sha(data), { owner: "a" });
    await assert.rejects(store.writer(a, { ref: "again", expected: sha(data) }), isAlreadyExists);
    await assert.rejects(store.info(b, sha(data)), isNotFound);
    await assert.rejects(store.writer(b, { ref: "r", expected: sha(data) }), isAlreadyExists);
    const infoB = await store.info(b, sha(data));
    assert.deepEqual(infoB.labels, {});
    assert.deepEqual((await store.info(a, sha(data))).labels, { owner: "a" });
    // Deleting in one namespace keeps the file for the other.
    await store.delete(a, sha(data));
    assert.ok((await readAll(store.read(b, sha(data)))).equals(data));
    await store.delete(b, sha(data));
    await assert.rejects(stat(store.blobPath(sha(data))), { code: "ENOENT" });
    await assert.rejects(store.delete(b, sha(data)), isNotFound);
  });
});

test("update labels by mask and list with filters", async () => {
  await withStore(async (store) => {
    const ctx = ns("default");
    const blobs = [Buffer.from("one"), Buffer.from("two")];
    for (const [i, data] of blobs.entries()) {
      const w = await store.writer(ctx, { ref: `r${i}` });
      await w.write(data);
      await w.commit(data.length, sha(data), { i: String(i), keep: "y" });
    }
    const d0 = sha(blobs[0] as Buffer);
    let info = await store.update(ctx, { digest: d0, labels: { new: "1", i: "" } }, [
      "labels.new",
      "labels.i",
    ]);
    assert.deepEqual(info.labels, { keep: "y", new: "1" });
    info = await store.update(ctx, { digest: d0, labels: { only: "x" } });
    assert.deepEqual(info.labels, { only: "x" });
    await assert.rejects(store.update(ctx, { digest: d0, labels: {} }, ["size"]), /cannot update/);
    assert.deepEqual(
      (await store.list(ctx, ["labels.i==1"])).map((i) => i.digest),
      [sha(blobs[1] as Buffer)],
    );
    assert.equal((await store.list(ctx, [""])).length, 2);
  });
});

test("ENOSPC: ResourceExhausted, no blob visible, ingest resumable", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "sbxd-content-full-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
  } catch {
    t.skip("cannot mount tmpfs (needs root)");
    await rm(dir, { recursive: true, force: true });
    return;
  }
  try {
    await withStore(async (store, root) => {
      const ctx = ns("default");
      const data = randomBytes(2 << 20);
      const w = await store.writer(ctx, { ref: "big", total: data.length, expected: sha(data) });
      let err: unknown;
      try {
        for (let off = 0; off < data.length; off += 64 << 10) {
          await w.write(data.subarray(off, off + (64 << 10)));
        }
      } catch (e) {
        err = e;
      }
      assert.ok(isResourceExhausted(err), String(err));
      assert.match(String(err), /no space left on device/);
      const offset = w.offset;
      assert.ok(offset > 0 && offset < data.length);
      await w.close();
      assert.deepEqual(await readdir(join(root, "blobs", "sha256")), []);
      await assert.rejects(store.info(ctx, sha(data)), isNotFound);
      const st = await store.status(ctx, "big");
      assert.equal(st.offset, offset);
      const resumed = await store.writer(ctx, { ref: "big" });
      assert.equal(resumed.digest(), sha(data.subarray(0, offset)));
      await resumed.close();
      await store.abort(ctx, "big");
      assert.equal((await readFile(join(root, "..", "meta.db"))).length > 0, true);
    }, dir);
  } finally {
    execFileSync("umount", [dir]);
    await rm(dir, { recursive: true, force: true });
  }
});
