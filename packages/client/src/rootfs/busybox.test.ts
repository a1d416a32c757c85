import assert from "node:assert/strict";
import {
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  readdir,
  rm,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { prepareBusyboxRootfs } from "./busybox.js";

async function scratch(t: { after(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "sbx-rootfs-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test("builds a busybox rootfs with applet links and etc files", async (t) => {
  const dir = join(await scratch(t), "rootfs");
  assert.equal(await prepareBusyboxRootfs(dir), dir);
  assert.ok((await lstat(join(dir, "bin", "busybox"))).isFile());
  assert.equal(await readlink(join(dir, "bin", "sh")), "busybox");
  assert.match(await readFile(join(dir, "etc", "passwd"), "utf8"), /^root:x:0:0:/);
  for (const sub of ["proc", "sys", "dev", "tmp"]) {
    assert.deepEqual(await readdir(join(dir, sub)), [], `${sub} is empty`);
  }
  assert.equal((await lstat(join(dir, "tmp"))).mode & 0o7777, 0o1777);
});

test("is idempotent, fills an empty directory, and refuses a foreign one", async (t) => {
  const base = await scratch(t);
  const dir = join(base, "rootfs");
  await prepareBusyboxRootfs(dir);
  const before = (await lstat(join(dir, "bin", "busybox"))).ino;
  await prepareBusyboxRootfs(dir);
  assert.equal(
    (await lstat(join(dir, "bin", "busybox"))).ino,
    before,
    "left alone the second time",
  );

  const empty = join(base, "empty");
  await mkdir(empty);
  await prepareBusyboxRootfs(empty);
  assert.ok((await lstat(join(empty, "bin", "busybox"))).isFile());

  const foreign = join(base, "foreign");
  await mkdir(foreign);
  await writeFile(join(foreign, "file"), "x");
  await assert.rejects(prepareBusyboxRootfs(foreign), /is not a busybox rootfs/);
});

test("concurrent builders of one directory all succeed and leave no temp dirs", async (t) => {
  const base = await scratch(t);
  const dir = join(base, "rootfs");
  await Promise.all(Array.from({ length: 6 }, () => prepareBusyboxRootfs(dir)));
  assert.deepEqual(await readdir(base), ["rootfs"]);
  assert.equal(await readlink(join(dir, "bin", "ls")), "busybox");
});

test("a missing or dynamic busybox is refused with what to install", async (t) => {
  const base = await scratch(t);
  await assert.rejects(
    prepareBusyboxRootfs(join(base, "a"), { busybox: join(base, "nope") }),
    /busybox-static/,
  );
  await assert.rejects(
    prepareBusyboxRootfs(join(base, "b"), { busybox: process.execPath }),
    /dynamically linked/,
  );
});
