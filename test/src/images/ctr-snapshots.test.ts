// Debian's containerd 1.6 `ctr snapshots` against sandboxd: prepare on an
// imported image's top layer, mount as ctr prints it, change files, then
// `ctr snapshots diff` makes a layer through diff.v1 Diff and reads it back.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { openStack, type Sandboxd } from "@sandboxd/testing";
import { writeOciArchive } from "./ctr-archive.js";

let daemon: Sandboxd;
let dir: string;
let close: (() => Promise<void>) | undefined;

before(async () => {
  ({ sandboxd: daemon, dir, close } = await openStack());
});
after(() => close?.());

async function ok(args: string[], namespace = "snap"): Promise<string> {
  const r = await daemon.ctr(args, { namespace });
  assert.equal(r.code, 0, `ctr ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

test("ctr snapshots prepare/mounts/usage/info/diff/rm on an imported image", async () => {
  const name = "docker.io/library/snap:latest";
  const archive = join(dir, "snap.tar");
  await writeOciArchive(archive, name);
  await ok(["images", "import", archive]);
  const committed = (await ok(["snapshots", "ls"]))
    .split("\n")
    .slice(1)
    .filter(Boolean)
    .map((l) => l.split(/\s+/));
  const top = committed.find((c) => c[1] !== "")?.[0] as string;
  assert.ok(top, "a committed snapshot with a parent");
  await ok(["snapshots", "prepare", "work", top]);
  const mnt = join(dir, "mnt");
  await mkdir(mnt);
  const cmd = (await ok(["snapshots", "mounts", mnt, "work"])).trim();
  assert.match(cmd, /^mount -t overlay overlay .*lowerdir=/);
  execFileSync("sh", ["-c", cmd]);
  try {
    await writeFile(join(mnt, "added"), "new file\n");
  } finally {
    execFileSync("umount", [mnt]);
  }
  const info = JSON.parse(await ok(["snapshots", "info", "work"])) as {
    Kind: string;
    Parent: string;
  };
  assert.equal(info.Parent, top);
  assert.match(await ok(["snapshots", "usage", "work"]), /work/);
  // ctr 1.6 writes the new layer blob (made by Diff.Diff, read back through content.v1) to stdout.
  const blob = execFileSync("ctr", [
    "--address",
    daemon.address,
    "-n",
    "snap",
    "snapshots",
    "diff",
    "work",
  ]);
  const tar = gunzipSync(blob);
  assert.ok(tar.includes(Buffer.from("added")), "the layer holds the new file");
  assert.ok(tar.includes(Buffer.from("new file\n")));
  await ok(["snapshots", "rm", "work"]);
  await ok(["images", "rm", "--sync", name]);
});
