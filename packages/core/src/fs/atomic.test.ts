import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { lstat, mkdtemp, readdir, readFile, rm, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { writeFileAtomic } from "./atomic.js";

test("writeFileAtomic replaces the file whole, with its mode, and leaves no temp file", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "core-atomic-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, "state.json");
  await writeFileAtomic(file, "one", { mode: 0o640 });
  await writeFileAtomic(file, "two", { durable: false });
  assert.equal(await readFile(file, "utf8"), "two");
  assert.equal((await stat(file)).mode & 0o777, 0o600, "the mode of the last write");
  await writeFileAtomic(join(dir, "other"), "x", { mode: 0o640 });
  assert.equal((await stat(join(dir, "other"))).mode & 0o777, 0o640 & ~process.umask());
  assert.deepEqual((await readdir(dir)).sort(), ["other", "state.json"]);
  await assert.rejects(writeFileAtomic(join(dir, "missing", "f"), "x"), { code: "ENOENT" });
  assert.deepEqual((await readdir(dir)).sort(), ["other", "state.json"]);
});

test("writeFileAtomic replaces a FIFO or a symlink without opening through it, and keeps no descriptor", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "core-atomic-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const openFds = async (): Promise<number> => (await readdir("/proc/self/fd")).length;
  const before = await openFds();
  // A FIFO with no writer would block an open without O_NONBLOCK.
  const fifo = join(dir, "fifo");
  execFileSync("mkfifo", [fifo]);
  await writeFileAtomic(fifo, "was a fifo", { durable: false });
  assert.equal(await readFile(fifo, "utf8"), "was a fifo");
  const target = join(dir, "target");
  await writeFileAtomic(target, "kept");
  await symlink(target, join(dir, "link"));
  await writeFileAtomic(join(dir, "link"), "replaced the link");
  assert.equal(await readFile(target, "utf8"), "kept", "the link's target is not written");
  assert.equal((await lstat(join(dir, "link"))).isFile(), true);
  for (let i = 0; i < 20; i++) await writeFileAtomic(target, `round ${i}`, { durable: false });
  // The replaced files are closed without being waited for: wait until they are.
  const deadline = Date.now() + 30_000;
  while ((await openFds()) > before && Date.now() < deadline) await sleep(20);
  assert.equal(await openFds(), before, "no descriptor of a replaced file stays open");
});
