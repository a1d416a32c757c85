import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs, { constants, existsSync, writeSync } from "node:fs";
import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { syncBuiltinESMExports } from "node:module";
import { join } from "node:path";
import { test } from "node:test";
import { background } from "@sandboxd/core";
import { isFailedPrecondition } from "@sandboxd/errdefs";
import { execFifoName, releaseInit } from "./exec-fifo.js";

const never = new Promise<never>(() => undefined);

/** A runc root with container `id` created: its exec FIFO, as runc create leaves it. */
async function created(t: { after(fn: () => unknown): void }, id = "c1"): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "exec-fifo-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, id));
  execFileSync("mkfifo", [join(root, id, execFifoName)]);
  return root;
}

/** What runc init does once a reader is there: open for writing, one byte, close (exec). */
async function initWrites(fifo: string, byte = true): Promise<void> {
  for (;;) {
    try {
      // Non-blocking: fails with ENXIO until the reader has opened its end.
      const h = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      if (byte) writeSync(h.fd, "0");
      await h.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENXIO") throw err;
      await new Promise((r) => setImmediate(r));
    }
  }
}

test("the init's byte is read, and the FIFO removed (runc's sign of a started container)", async (t) => {
  const root = await created(t);
  const fifo = join(root, "c1", execFifoName);
  const [released] = await Promise.all([
    releaseInit(background(), root, "c1", never),
    initWrites(fifo),
  ]);
  assert.equal(released, true);
  assert.equal(existsSync(fifo), false);
});

test("no exec FIFO: false, for runc start to decide", async (t) => {
  const root = await created(t);
  assert.equal(await releaseInit(background(), root, "other", never), false);
});

test("an init that died before opening its end: FailedPrecondition, the FIFO kept", async (t) => {
  const root = await created(t);
  const err = await releaseInit(background(), root, "c1", Promise.resolve()).catch(
    (e: unknown) => e,
  );
  assert.ok(isFailedPrecondition(err), String(err));
  assert.match(String(err), /already dead/);
  assert.equal(existsSync(join(root, "c1", execFifoName)), true);
});

test("an exit learned before the byte was read still counts as started", async (t) => {
  const root = await created(t);
  const fifo = join(root, "c1", execFifoName);
  // The byte sits in the pipe (held open here, as if init wrote it and exec'd).
  const holder = await open(fifo, constants.O_RDWR);
  t.after(() => holder.close());
  writeSync(holder.fd, "0");
  assert.equal(await releaseInit(background(), root, "c1", Promise.resolve()), true);
});

test("a writer that closes without its byte: the container was started already", async (t) => {
  const root = await created(t);
  const fifo = join(root, "c1", execFifoName);
  const [err] = await Promise.all([
    releaseInit(background(), root, "c1", never).catch((e: unknown) => e),
    initWrites(fifo, false),
  ]);
  assert.ok(isFailedPrecondition(err), String(err));
  assert.match(String(err), /already running/);
});

test("a cancelled start stops waiting", async (t) => {
  const root = await created(t);
  const abort = new AbortController();
  const ctx = { ...background(), signal: abort.signal };
  const waiting = releaseInit(ctx, root, "c1", never).catch((e: unknown) => e);
  abort.abort();
  assert.match(String(await waiting), /cancelled/);
});

test("an exit learned after the start does not read the descriptor again (closed, its number reused)", async (t) => {
  const root = await created(t);
  const fifo = join(root, "c1", execFifoName);
  let exit!: () => void;
  const gone = new Promise<void>((r) => (exit = r));
  const [released] = await Promise.all([
    releaseInit(background(), root, "c1", gone),
    initWrites(fifo),
  ]);
  assert.equal(released, true);
  const original = fs.readSync;
  let reads = 0;
  fs.readSync = ((...args: Parameters<typeof original>) => {
    reads++;
    return original(...args);
  }) as typeof original;
  syncBuiltinESMExports();
  t.after(() => {
    fs.readSync = original;
    syncBuiltinESMExports();
  });
  exit();
  await new Promise((r) => setImmediate(r));
  assert.equal(reads, 0);
});
