import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { background } from "@sandboxd/core";
import { isInvalidArgument } from "@sandboxd/errdefs";
import { tarArchive, type TarEntry } from "../archive/tarwriter.js";
import { overlaySupported } from "../snapshots/open.js";
import { lgetxattr } from "./syscalls.js";
import { chainIds, applyLayerFile } from "./unpack.js";

const ctx = background();
const sha = (b: Uint8Array): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "sbxd-unpack-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function apply(
  dir: string,
  name: string,
  blob: Buffer,
  root: string,
  overlay = false,
  parents: string[] = [],
) {
  const blobPath = join(dir, name);
  await writeFile(blobPath, blob);
  return applyLayerFile(ctx, { blobPath, root, overlay, parents });
}

function getxattr(path: string, name: string): string {
  return lgetxattr(path, name)?.toString() ?? "";
}

test("entries land with owners, modes, times, links, devices and xattrs; diffID of gzip/zstd/plain", async () => {
  await withDir(async (dir) => {
    const longName = `deep/${"n".repeat(120)}/file`;
    const entries: TarEntry[] = [
      { name: "bin/", type: "dir", mode: 0o755, mtime: 1_600_000_000 },
      {
        name: "bin/tool",
        data: "#!/bin/sh\n",
        mode: 0o4755,
        uid: 1234,
        gid: 5678,
        mtime: 1_500_000_000,
      },
      { name: "bin/alias", type: "symlink", linkname: "tool", uid: 7, gid: 8 },
      { name: "bin/hard", type: "link", linkname: "bin/tool" },
      { name: "dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
      { name: "dev/sda", type: "block", devmajor: 8, devminor: 0, mode: 0o660 },
      { name: "run/fifo", type: "fifo", mode: 0o600 },
      { name: longName, data: "pax long name" },
      { name: `gnu/${"g".repeat(150)}`, data: "gnu long name", gnuLongName: true },
      { name: "caps", data: "x", xattrs: { "trusted.test": "v1", "user.big": "y".repeat(200) } },
      { name: "./dot/./slash//name", data: "cleaned" },
    ];
    const tar = tarArchive(entries);
    for (const [label, blob] of [
      ["plain", tar],
      ["gzip", gzipSync(tar)],
      ["zstd", zstdCompressSync(tar)],
    ] as const) {
      const root = join(dir, `root-${label}`);
      await mkdir(root);
      const result = await apply(dir, `${label}.blob`, blob, root);
      assert.equal(result.diffId, sha(tar), label);
      assert.equal(result.size, tar.length);
      assert.equal(result.compression, label === "plain" ? "none" : label);
      const tool = await stat(join(root, "bin/tool"));
      assert.equal(tool.mode & 0o7777, 0o4755);
      assert.equal(tool.uid, 1234);
      assert.equal(tool.gid, 5678);
      assert.equal(Math.floor(tool.mtimeMs / 1000), 1_500_000_000);
      assert.equal(tool.nlink, 2, "hardlink shares the inode");
      assert.equal(await readlink(join(root, "bin/alias")), "tool");
      assert.equal((await lstat(join(root, "bin/alias"))).uid, 7);
      assert.equal(Math.floor((await stat(join(root, "bin"))).mtimeMs / 1000), 1_600_000_000);
      const devnull = await stat(join(root, "dev/null"));
      assert.ok(devnull.isCharacterDevice());
      assert.equal(devnull.rdev, (1 << 8) | 3);
      assert.ok((await stat(join(root, "dev/sda"))).isBlockDevice());
      assert.ok((await stat(join(root, "run/fifo"))).isFIFO());
      assert.equal(await readFile(join(root, longName), "utf8"), "pax long name");
      assert.equal(await readFile(join(root, `gnu/${"g".repeat(150)}`), "utf8"), "gnu long name");
      assert.equal(getxattr(join(root, "caps"), "trusted.test"), "v1");
      assert.equal(await readFile(join(root, "dot/slash/name"), "utf8"), "cleaned");
    }
  });
});

test("chain IDs as containerd computes them", () => {
  const a = `sha256:${"a".repeat(64)}`;
  const b = `sha256:${"b".repeat(64)}`;
  const ab = `sha256:${createHash("sha256").update(`${a} ${b}`).digest("hex")}`;
  assert.deepEqual(chainIds([a, b]), [a, ab]);
  assert.deepEqual(chainIds([]), []);
});

test("plain mode: whiteouts delete and an opaque dir keeps only this layer's entries", async () => {
  await withDir(async (dir) => {
    const root = join(dir, "root");
    await mkdir(root);
    await apply(
      dir,
      "l1",
      tarArchive([
        { name: "etc/hello", data: "hi" },
        { name: "etc/keep", data: "k" },
        { name: "dir/a", data: "a" },
        { name: "dir/b", data: "b" },
      ]),
      root,
    );
    await apply(
      dir,
      "l2",
      tarArchive([
        { name: "etc/.wh.hello" },
        { name: "dir/c", data: "c" },
        { name: "dir/.wh..wh..opq" },
      ]),
      root,
    );
    assert.deepEqual((await readdir(join(root, "etc"))).sort(), ["keep"]);
    assert.deepEqual((await readdir(join(root, "dir"))).sort(), ["c"]);
  });
});

test("overlay mode: 0/0 char device whiteouts and the opaque xattr, seen through a real overlay mount", async (t) => {
  if (!overlaySupported()) return t.skip("no overlayfs");
  await withDir(async (dir) => {
    const lower = join(dir, "lower");
    const upper = join(dir, "upper");
    const work = join(dir, "work");
    const mnt = join(dir, "mnt");
    for (const d of [lower, upper, work, mnt]) await mkdir(d);
    await apply(
      dir,
      "l1",
      tarArchive([
        { name: "etc/", type: "dir", mode: 0o750, uid: 3, gid: 4 },
        { name: "etc/hello", data: "hi" },
        { name: "dir/a", data: "a" },
      ]),
      lower,
    );
    await apply(
      dir,
      "l2",
      tarArchive([
        { name: "etc/.wh.hello", uid: 0, gid: 0 },
        { name: "dir/.wh..wh..opq" },
        { name: "dir/c", data: "c" },
      ]),
      upper,
      true,
      [lower],
    );
    const wh = await stat(join(upper, "etc/hello"));
    assert.ok(wh.isCharacterDevice());
    assert.equal(wh.rdev, 0);
    // The missing parent took the lower layer's attributes.
    const etc = await stat(join(upper, "etc"));
    assert.equal(etc.mode & 0o777, 0o750);
    assert.equal(etc.uid, 3);
    assert.equal(getxattr(join(upper, "dir"), "trusted.overlay.opaque"), "y");
    execFileSync("mount", [
      "-t",
      "overlay",
      "overlay",
      mnt,
      "-o",
      `lowerdir=${lower},upperdir=${upper},workdir=${work}`,
    ]);
    try {
      assert.deepEqual(await readdir(join(mnt, "etc")), []);
      assert.deepEqual(await readdir(join(mnt, "dir")), ["c"]);
    } finally {
      execFileSync("umount", [mnt]);
    }
  });
});

test("hostile layers cannot write outside their root", async () => {
  await withDir(async (dir) => {
    const root = join(dir, "a", "b", "root");
    const outside = join(dir, "a", "b", "outside");
    await mkdir(root, { recursive: true });
    await mkdir(outside);
    await writeFile(join(dir, "secret"), "host file");
    const cases: [string, TarEntry[]][] = [
      [
        "dotdot",
        [
          { name: "../outside/pwned", data: "x" },
          { name: "../../../../pwned2", data: "x" },
        ],
      ],
      ["absolute", [{ name: `${outside}/pwned`, data: "x" }]],
      [
        "symlink then write through it (same layer)",
        [
          { name: "evil", type: "symlink", linkname: outside },
          { name: "evil/pwned", data: "x" },
          { name: "rel", type: "symlink", linkname: "../../outside" },
          { name: "rel/pwned", data: "x" },
          { name: "deep/", type: "dir" },
          { name: "deep/up", type: "symlink", linkname: "../../../../../.." },
          { name: "deep/up/outside/pwned", data: "x" },
        ],
      ],
      ["symlink from an earlier layer", [{ name: "evil/pwned-later", data: "x" }]],
      [
        "symlink as the final name is replaced, not followed",
        [
          { name: "final", type: "symlink", linkname: join(outside, "target") },
          { name: "final", data: "replaced" },
        ],
      ],
    ];
    for (const [label, entries] of cases) {
      await apply(dir, "layer", tarArchive(entries), root);
      assert.deepEqual(await readdir(outside), [], label);
    }
    assert.equal(await readFile(join(root, "outside", "pwned"), "utf8"), "x");
    assert.ok((await lstat(join(root, "final"))).isFile());
    // Hardlinks to outside targets: resolved inside root, where they do not exist.
    for (const linkname of [join(dir, "secret"), "../../../secret", "evil/../../../secret"]) {
      await assert.rejects(
        apply(dir, "layer", tarArchive([{ name: "stolen", type: "link", linkname }]), root),
        (e) => isInvalidArgument(e) && /does not exist in the layer/.test(String(e)),
        linkname,
      );
      assert.equal(await lstat(join(root, "stolen")).catch(() => undefined), undefined);
    }
    assert.equal(await readFile(join(dir, "secret"), "utf8"), "host file");
    assert.deepEqual(await readdir(outside), []);
  });
});

test("bad input: truncated gzip and truncated tar are InvalidArgument", async () => {
  await withDir(async (dir) => {
    const root = join(dir, "root");
    await mkdir(root);
    const tar = tarArchive([{ name: "f", data: "x".repeat(10_000) }]);
    const gz = gzipSync(tar);
    await assert.rejects(apply(dir, "gz", gz.subarray(0, gz.length - 20), root), isInvalidArgument);
    await assert.rejects(apply(dir, "tar", tar.subarray(0, 2048), root), isInvalidArgument);
    const bad = Buffer.from(tar);
    bad[10] = 0x41; // breaks the header checksum
    await assert.rejects(apply(dir, "bad", bad, root), /invalid header checksum/);
  });
});

test("apply runs off the event loop", async () => {
  await withDir(async (dir) => {
    const root = join(dir, "root");
    await mkdir(root);
    const entries: TarEntry[] = [];
    for (let i = 0; i < 3000; i++) entries.push({ name: `d${i % 30}/f${i}`, data: `file ${i}` });
    let ticks = 0;
    let running = true;
    const spin = (): void => {
      ticks++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const ticksAtStart = ticks;
    await apply(dir, "big", gzipSync(tarArchive(entries)), root);
    running = false;
    assert.ok(
      ticks - ticksAtStart > 1,
      `event loop turned ${ticks - ticksAtStart} times during apply`,
    );
    assert.equal((await readdir(join(root, "d7"))).length, 100);
  });
});
