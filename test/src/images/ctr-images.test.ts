// Debian's containerd 1.6 `ctr` imports, runs, exports and removes images
// against sandboxd: content/images/snapshots/diff/leases over the gRPC socket,
// the stock runc shim mounting the snapshot's overlay from
// CreateTaskRequest.rootfs, and GC leaving exactly what is referenced.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { openDaemon, type Sandboxd } from "../daemon/harness.js";
import { writeDockerArchive, writeOciArchive } from "./ctr-archive.js";

let daemon: Sandboxd;
let dir: string;
let close: (() => Promise<void>) | undefined;

before(async () => {
  ({ daemon, dir, close } = await openDaemon());
});
after(() => close?.());

const lines = (s: string): string[] => s.split("\n").filter(Boolean);

async function ok(args: string[], namespace: string): Promise<string> {
  const r = await daemon.ctr(args, { namespace });
  assert.equal(r.code, 0, `ctr ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

async function contentDigests(namespace: string): Promise<string[]> {
  return lines(await ok(["content", "ls", "-q"], namespace)).sort();
}

async function snapshotKeys(namespace: string): Promise<string[]> {
  return lines(await ok(["snapshots", "ls"], namespace))
    .slice(1)
    .map((l) => l.split(/\s+/)[0] as string)
    .sort();
}

test("ctr images import (OCI archive), ls, run IMAGE, rm: GC leaves nothing", async () => {
  const ns = "oci";
  const name = "docker.io/library/bbtest:latest";
  const archive = join(dir, "oci.tar");
  const built = await writeOciArchive(archive, name);
  const imported = await daemon.ctr(["images", "import", archive], { namespace: ns });
  assert.equal(imported.code, 0, imported.stderr);
  const ls = await ok(["images", "ls"], ns);
  assert.match(
    ls,
    new RegExp(
      `^${name.replace(/[.]/g, "\\.")}\\s+application/vnd\\.oci\\.image\\.manifest\\.v1\\+json\\s+${built.manifestDigest}`,
      "m",
    ),
  );
  // The image's blobs are all there; the index was held only by the import's lease.
  assert.deepEqual(await contentDigests(ns), [...built.blobs].sort());
  // Unpacked: the two layers' chain IDs are committed snapshots.
  assert.equal((await snapshotKeys(ns)).length, 2);

  const run = await daemon.ctr(
    [
      "run",
      "--rm",
      name,
      "t1",
      "/bin/sh",
      "-c",
      "cat /etc/hello /etc/layer2; ls /etc; ls /dir; test ! -e /etc/gone && echo gone",
    ],
    { namespace: ns },
  );
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "hello from layer 1\nlayer 2\nhello\nlayer2\nc\ngone\n");
  // --rm removed the container's snapshot.
  assert.equal((await snapshotKeys(ns)).length, 2);

  const rm = await daemon.ctr(["images", "rm", "--sync", name], { namespace: ns });
  assert.equal(rm.code, 0, rm.stderr);
  assert.deepEqual(await contentDigests(ns), []);
  assert.deepEqual(await snapshotKeys(ns), []);
  const blobs = await readdir(
    join(daemon.root, "io.containerd.content.v1.content", "blobs", "sha256"),
  );
  assert.deepEqual(blobs, []);
});

test("ctr images import (docker archive) and export (OCI archive) round trip; GC keeps what another image references", async () => {
  const ns = "docker";
  const archive = join(dir, "docker.tar");
  await writeDockerArchive(archive, "bbdocker:v1");
  const imported = await daemon.ctr(["images", "import", archive], { namespace: ns });
  assert.equal(imported.code, 0, imported.stderr);
  const name = "docker.io/library/bbdocker:v1";
  assert.match(
    await ok(["images", "ls", "-q"], ns),
    new RegExp(`^${name.replace(/[.]/g, "\\.")}$`, "m"),
  );
  const run = await daemon.ctr(["run", "--rm", name, "t2", "/bin/cat", "/etc/hello"], {
    namespace: ns,
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "hello from layer 1\n");

  const exported = join(dir, "exported.tar");
  await ok(["images", "export", exported, name], ns);
  // A second name for the same target: removing one keeps every blob and snapshot.
  await ok(["images", "tag", name, "docker.io/library/bbdocker:v2"], ns);
  const before = await contentDigests(ns);
  const snaps = await snapshotKeys(ns);
  await ok(["images", "rm", "--sync", name], ns);
  assert.deepEqual(await contentDigests(ns), before);
  assert.deepEqual(await snapshotKeys(ns), snaps);
  await ok(["images", "rm", "--sync", "docker.io/library/bbdocker:v2"], ns);
  assert.deepEqual(await contentDigests(ns), []);
  assert.deepEqual(await snapshotKeys(ns), []);

  // The export imports again (OCI layout written by ctr from sandboxd's content).
  const again = await daemon.ctr(["images", "import", exported], { namespace: ns });
  assert.equal(again.code, 0, again.stderr);
  const run2 = await daemon.ctr(["run", "--rm", name, "t3", "/bin/ls", "/dir"], { namespace: ns });
  assert.equal(run2.code, 0, run2.stderr);
  assert.equal(run2.stdout, "c\n");
  await ok(["images", "rm", "--sync", name], ns);
  assert.deepEqual(await contentDigests(ns), []);
});
