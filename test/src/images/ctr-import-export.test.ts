// Archives across Debian's containerd 1.6 `ctr` and `sbx` against one sandboxd:
// `sbx image import` (docker-archive and OCI tars, streamed over transfer.v1),
// `sbx image export` read back by `ctr images import` into a fresh namespace,
// `ctr images export` (client-side, over content.v1/images.v1) read back by
// `sbx image import`; every hop ends with `ctr run` of the image. A corrupt blob
// fails the import with a message naming it and leaves no content.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { tarArchive } from "@sandboxd/images";
import { openStack, requireRoot, type Sandboxd } from "@sandboxd/testing";
import { writeDockerArchive, writeOciArchive } from "./ctr-archive.js";

const execFileAsync = promisify(execFile);
const sbxBin = fileURLToPath(new URL("../../../packages/cli/bin/sbx", import.meta.url));

let daemon: Sandboxd;
let dir: string;
let close: (() => Promise<void>) | undefined;

before(async () => {
  requireRoot("sandboxd runs as root");
  ({ sandboxd: daemon, dir, close } = await openStack());
});
after(() => close?.());

function sbx(args: string[], namespace: string): Promise<{ stdout: string; stderr: string }> {
  const env = { ...process.env, SANDBOXD_ADDRESS: daemon.address, SANDBOXD_NAMESPACE: namespace };
  return execFileAsync(sbxBin, args, { env, timeout: 120_000 });
}

async function ctrOk(args: string[], namespace: string): Promise<string> {
  const r = await daemon.ctr(args, { namespace });
  assert.equal(r.code, 0, `ctr ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

async function runCat(image: string, namespace: string, id: string): Promise<string> {
  return ctrOk(["run", "--rm", image, id, "/bin/cat", "/etc/hello"], namespace);
}

test("sbx import (OCI) → sbx export → ctr 1.6 import in a fresh namespace → ctr export → sbx import; each runs", async () => {
  const name = "docker.io/library/bbx:1";
  const oci = join(dir, "in-oci.tar");
  const built = await writeOciArchive(oci, name);
  const imported = await sbx(["image", "import", oci], "ie-a");
  assert.equal(imported.stdout, `${name}\n`);
  const ls = await ctrOk(["images", "ls"], "ie-a");
  assert.match(ls, new RegExp(`^${name.replace(/[.]/g, "\\.")}\\s.*${built.manifestDigest}`, "m"));
  assert.equal(await runCat(name, "ie-a", "r1"), "hello from layer 1\n");

  // sbx export → ctr 1.6 import (it reads index.json; manifest.json rides along).
  const exported = join(dir, "sbx-export.tar");
  await sbx(["image", "export", exported, name], "ie-a");
  await ctrOk(["images", "import", exported], "ie-b");
  assert.equal((await ctrOk(["images", "ls", "-q"], "ie-b")).trim(), name);
  assert.equal(await runCat(name, "ie-b", "r2"), "hello from layer 1\n");

  // ctr 1.6 export → sbx import into a third namespace.
  const fromCtr = join(dir, "ctr-export.tar");
  await ctrOk(["images", "export", fromCtr, name], "ie-b");
  const again = await sbx(["-o", "json", "image", "import", fromCtr], "ie-c");
  assert.deepEqual(JSON.parse(again.stdout), [{ name }]);
  assert.equal(await runCat(name, "ie-c", "r3"), "hello from layer 1\n");
  const digests = (await ctrOk(["content", "ls", "-q"], "ie-c")).trim().split("\n").sort();
  assert.deepEqual(digests, [...built.blobs].sort());
});

test("sbx import of a docker-archive (docker save) tar: Docker schema2 image that ctr runs", async () => {
  const archive = join(dir, "docker-save.tar");
  await writeDockerArchive(archive, "bbsave:v3");
  const imported = await sbx(["image", "import", archive], "ie-d");
  assert.equal(imported.stdout, "docker.io/library/bbsave:v3\n");
  const ls = await ctrOk(["images", "ls"], "ie-d");
  assert.match(ls, /application\/vnd\.docker\.distribution\.manifest\.v2\+json/);
  const run = await ctrOk(
    ["run", "--rm", "docker.io/library/bbsave:v3", "r4", "/bin/ls", "/dir"],
    "ie-d",
  );
  assert.equal(run, "c\n");
});

/** A one-layer OCI archive whose layer is unique to this run (no blob the store could already hold). */
function uniqueOciArchive(name: string): { tar: Buffer; layer: Buffer; layerDigest: string } {
  const sha = (b: Uint8Array): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;
  const layerTar = tarArchive([{ name: "noise", data: randomBytes(64 * 1024) }]);
  const layer = gzipSync(layerTar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [sha(layerTar)] },
    }),
  );
  const desc = (mediaType: string, b: Buffer) => ({ mediaType, digest: sha(b), size: b.length });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: desc("application/vnd.oci.image.config.v1+json", config),
      layers: [desc("application/vnd.oci.image.layer.v1.tar+gzip", layer)],
    }),
  );
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        ...desc("application/vnd.oci.image.manifest.v1+json", manifest),
        annotations: { "io.containerd.image.name": name },
      },
    ],
  };
  const tar = tarArchive([
    { name: "oci-layout", data: JSON.stringify({ imageLayoutVersion: "1.0.0" }) },
    { name: "index.json", data: JSON.stringify(index) },
    ...[config, manifest, layer].map((b) => ({ name: `blobs/sha256/${sha(b).slice(7)}`, data: b })),
  ]);
  return { tar, layer, layerDigest: sha(layer) };
}

test("sbx import of an archive with a corrupt layer: exit 1 naming the blob, nothing in the namespace", async () => {
  const { tar, layer, layerDigest } = uniqueOciArchive("docker.io/library/bad:1");
  const at = tar.indexOf(layer) + (layer.length >> 1);
  tar[at] = (tar[at] ?? 0) ^ 0xff;
  const bad = join(dir, "bad.tar");
  await writeFile(bad, tar);
  await assert.rejects(sbx(["image", "import", bad], "ie-e"), (e: { stderr?: string }) => {
    assert.match(
      e.stderr ?? "",
      new RegExp(`archive file blobs/sha256/${layerDigest.slice(7)} is corrupt`),
    );
    return true;
  });
  assert.equal((await ctrOk(["content", "ls", "-q"], "ie-e")).trim(), "");
  assert.equal((await ctrOk(["images", "ls", "-q"], "ie-e")).trim(), "");
});
