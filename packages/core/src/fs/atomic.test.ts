import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
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
