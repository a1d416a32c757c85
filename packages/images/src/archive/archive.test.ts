// Import/export of hand-written archives against a real content store and
// image store on disk: OCI layout and docker-archive tars, GC labels, naming,
// a corrupt or truncated blob (clear error, nothing committed, no ingest left)
// and an export that imports again byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { background, withNamespace, type Ctx } from "@sandboxd/core";
import { isDataLoss, isInvalidArgument, isNotFound, messageOf } from "@sandboxd/errdefs";
import { openImagesDb } from "../db.js";
import { ImageStore } from "../content/imagestore.js";
import { LocalContentStore } from "../content/store.js";
import { TarParser } from "../unpack/tar.js";
import { familiarName } from "./export.js";
import { importArchive, normalizeName } from "./import.js";
import { ArchiveService } from "./service.js";
import { tarArchive, type TarEntry } from "./tarwriter.js";

const sha = (b: Uint8Array): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const hex = (d: string): string => d.slice(7);
const ns = (name: string): Ctx => withNamespace(background(), name);
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

interface Stores {
  content: LocalContentStore;
  images: ImageStore;
  root: string;
}

async function withStores(fn: (s: Stores) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "sbxd-archive-"));
  const db = openImagesDb(join(dir, "meta.db"));
  const content = new LocalContentStore(join(dir, "content"), db);
  await content.init();
  try {
    await fn({ content, images: new ImageStore(db), root: join(dir, "content") });
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Yields `b` in small pieces, as a socket would. */
async function* chunks(b: Buffer, size = 777): AsyncIterable<Uint8Array> {
  for (let i = 0; i < b.length; i += size) {
    await Promise.resolve();
    yield b.subarray(i, i + size);
  }
}

function image() {
  const layer = gzipSync(tarArchive([{ name: "hello", data: "hi\n" }]));
  const diffId = sha(tarArchive([{ name: "hello", data: "hi\n" }]));
  const config = json({
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [diffId] },
  });
  const manifest = json({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: sha(config),
      size: config.length,
    },
    layers: [
      {
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: sha(layer),
        size: layer.length,
      },
    ],
  });
  return { layer, config, manifest };
}

function ociArchive(
  blobs: Buffer[],
  manifest: Buffer,
  annotations: Record<string, string>,
  corrupt?: (entries: TarEntry[]) => void,
): Buffer {
  const entries: TarEntry[] = [
    { name: "oci-layout", data: JSON.stringify({ imageLayoutVersion: "1.0.0" }) },
    {
      name: "index.json",
      data: json({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: sha(manifest),
            size: manifest.length,
            annotations,
          },
        ],
      }),
    },
    ...blobs.map((b): TarEntry => ({ name: `blobs/sha256/${hex(sha(b))}`, data: b })),
  ];
  corrupt?.(entries);
  return tarArchive(entries);
}

async function ingests(root: string): Promise<string[]> {
  return readdir(join(root, "ingest")).catch(() => []);
}

test("OCI archive: blobs committed with GC labels, named by io.containerd.image.name", async () => {
  await withStores(async ({ content }) => {
    const ctx = ns("a");
    const { layer, config, manifest } = image();
    const tar = ociArchive([layer, config, manifest], manifest, {
      "io.containerd.image.name": "docker.io/library/x:1",
      "org.opencontainers.image.ref.name": "1",
    });
    const r = await importArchive(ctx, content, chunks(tar));
    assert.deepEqual(
      r.images.map((i) => [i.name, i.target.digest]),
      [["docker.io/library/x:1", sha(manifest)]],
    );
    assert.equal(r.committed, 3);
    const m = await content.info(ctx, sha(manifest));
    assert.deepEqual(m.labels, {
      "containerd.io/gc.ref.content.config": sha(config),
      "containerd.io/gc.ref.content.l.0": sha(layer),
    });
    assert.equal((await content.info(ctx, sha(layer))).size, layer.length);
    assert.deepEqual(await ingests(join(content.blobPath(sha(layer)), "..", "..", "..")), []);
  });
});

test("a bare ref.name is joined to the base name; import-<date> by default, as ctr", async () => {
  await withStores(async ({ content }) => {
    const { layer, config, manifest } = image();
    const tar = ociArchive([layer, config, manifest], manifest, {
      "org.opencontainers.image.ref.name": "v2",
    });
    const named = await importArchive(ns("b"), content, chunks(tar), { baseName: "example/img" });
    assert.equal(named.images[0]?.name, "example/img:v2");
    const dated = await importArchive(ns("c"), content, chunks(tar));
    assert.match(dated.images[0]?.name ?? "", /^import-\d{4}-\d\d-\d\d:v2$/);
  });
});

test("a blob whose content does not match its name: DataLoss naming it, nothing committed", async () => {
  await withStores(async ({ content, root }) => {
    const ctx = ns("bad");
    const { layer, config, manifest } = image();
    const tar = ociArchive([config, layer, manifest], manifest, {}, (entries) => {
      const e = entries.find((x) => x.name === `blobs/sha256/${hex(sha(layer))}`) as TarEntry;
      const bytes = Buffer.from(e.data as Uint8Array);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
      e.data = bytes;
    });
    await assert.rejects(importArchive(ctx, content, chunks(tar)), (err) => {
      assert.ok(isDataLoss(err), messageOf(err));
      assert.match(messageOf(err), new RegExp(`blobs/sha256/${hex(sha(layer))} is corrupt`));
      return true;
    });
    assert.deepEqual(await content.list(ctx), []);
    assert.deepEqual(await readdir(join(root, "blobs", "sha256")).catch(() => []), []);
    assert.deepEqual(await ingests(root), []);
  });
});

test("a descriptor lying about a size, a missing layer, a truncated tar: clear errors, nothing committed", async () => {
  await withStores(async ({ content, root }) => {
    const ctx = ns("lies");
    const { layer, config, manifest } = image();
    const liar = json({
      ...(JSON.parse(manifest.toString()) as object),
      layers: [
        {
          mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
          digest: sha(layer),
          size: layer.length + 1,
        },
      ],
    });
    await assert.rejects(
      importArchive(ctx, content, chunks(ociArchive([layer, config, liar], liar, {}))),
      (err) =>
        isInvalidArgument(err) &&
        messageOf(err).includes(`says ${sha(layer)} has ${layer.length + 1} bytes`),
    );
    await assert.rejects(
      importArchive(ctx, content, chunks(ociArchive([config, manifest], manifest, {}))),
      (err) =>
        isNotFound(err) &&
        messageOf(err).includes(
          `references application/vnd.oci.image.layer.v1.tar+gzip ${sha(layer)}`,
        ),
    );
    const whole = ociArchive([config, manifest, layer], manifest, {});
    // Cut in the middle of the last entry's (the layer's) data.
    const dataStart = whole.length - 1024 - Math.ceil(layer.length / 512) * 512;
    await assert.rejects(
      importArchive(ctx, content, chunks(whole.subarray(0, dataStart + (layer.length >> 1)))),
      (err) => isInvalidArgument(err) && /archive is truncated inside/.test(messageOf(err)),
    );
    await assert.rejects(
      importArchive(ctx, content, chunks(Buffer.from("not a tar at all"))),
      (err) => isInvalidArgument(err),
    );
    assert.deepEqual(await content.list(ctx), []);
    assert.deepEqual(await ingests(root), []);
  });
});

test("docker archive: schema2 manifest made from manifest.json, names normalised, symlinked layer", async () => {
  await withStores(async ({ content }) => {
    const ctx = ns("docker");
    const layerTar = tarArchive([{ name: "a", data: "a\n" }]);
    const config = json({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [sha(layerTar), sha(layerTar)] },
    });
    const tar = tarArchive([
      { name: `${hex(sha(config))}.json`, data: config },
      { name: "l1/", type: "dir" },
      { name: "l1/layer.tar", data: layerTar },
      { name: "l2/", type: "dir" },
      { name: "l2/layer.tar", type: "symlink", linkname: "../l1/layer.tar" },
      {
        name: "manifest.json",
        data: json([
          {
            Config: `${hex(sha(config))}.json`,
            RepoTags: ["bb:v1", "127.0.0.1:5000/bb:v2"],
            Layers: ["l1/layer.tar", "l2/layer.tar"],
          },
        ]),
      },
      { name: "repositories", data: "{}" },
    ]);
    const r = await importArchive(ctx, content, chunks(tar));
    assert.deepEqual(
      r.images.map((i) => i.name),
      ["docker.io/library/bb:v1", "127.0.0.1:5000/bb:v2"],
    );
    const target = r.images[0]?.target;
    assert.equal(target?.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
    assert.deepEqual(target?.platform, { os: "linux", architecture: "amd64" });
    const parts: Uint8Array[] = [];
    for await (const c of content.read(ctx, target?.digest ?? "")) parts.push(c);
    const m = JSON.parse(Buffer.concat(parts).toString()) as {
      config: { mediaType: string; digest: string };
      layers: { mediaType: string; digest: string }[];
    };
    assert.equal(m.config.mediaType, "application/vnd.docker.container.image.v1+json");
    assert.deepEqual(
      m.layers.map((l) => [l.mediaType, l.digest]),
      [
        ["application/vnd.docker.image.rootfs.diff.tar", sha(layerTar)],
        ["application/vnd.docker.image.rootfs.diff.tar", sha(layerTar)],
      ],
    );
    assert.equal(
      (await content.info(ctx, target?.digest ?? "")).labels["containerd.io/gc.ref.content.l.1"],
      sha(layerTar),
    );
  });
});

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

test("export: OCI layout + docker manifest.json, sorted as containerd writes; imports again", async () => {
  await withStores(async ({ content, images }) => {
    const ctx = ns("exp");
    const { layer, config, manifest } = image();
    const service = new ArchiveService({ content, images });
    await service.import(
      ctx,
      chunks(
        ociArchive([layer, config, manifest], manifest, {
          "io.containerd.image.name": "docker.io/library/x:1",
        }),
      ),
    );
    const tar = await collect(await service.export(ctx, ["docker.io/library/x:1"]));
    const names: string[] = [];
    const files = new Map<string, Buffer[]>();
    let current = "";
    const parser = new TarParser({
      header: (h) => {
        names.push(h.name);
        current = h.name;
        files.set(current, []);
      },
      data: (c) => void files.get(current)?.push(Buffer.from(c)),
      end: () => undefined,
    });
    parser.push(tar);
    assert.ok(parser.done);
    assert.deepEqual(names, [
      "blobs/",
      "blobs/sha256/",
      ...[layer, config, manifest].map((b) => `blobs/sha256/${hex(sha(b))}`).sort(),
      "index.json",
      "manifest.json",
      "oci-layout",
    ]);
    const docker = JSON.parse(
      Buffer.concat(files.get("manifest.json") ?? []).toString(),
    ) as unknown;
    assert.deepEqual(docker, [
      {
        Config: `blobs/sha256/${hex(sha(config))}`,
        RepoTags: ["x:1"],
        Layers: [`blobs/sha256/${hex(sha(layer))}`],
      },
    ]);
    const index = JSON.parse(Buffer.concat(files.get("index.json") ?? []).toString()) as {
      manifests: { digest: string; annotations: Record<string, string> }[];
    };
    assert.deepEqual(index.manifests[0]?.annotations, {
      "io.containerd.image.name": "docker.io/library/x:1",
      "org.opencontainers.image.ref.name": "1",
    });
    const again = await importArchive(ns("fresh"), content, chunks(tar));
    assert.deepEqual(
      again.images.map((i) => [i.name, i.target.digest]),
      [["docker.io/library/x:1", sha(manifest)]],
    );
    await assert.rejects(service.export(ctx, ["docker.io/library/nope:1"]), (err) =>
      isNotFound(err),
    );
  });
});

test("names: normalise and familiarise as containerd's reference package", () => {
  assert.equal(normalizeName("busybox"), "docker.io/library/busybox:latest");
  assert.equal(familiarName("docker.io/library/busybox:latest"), "busybox:latest");
  assert.equal(familiarName("docker.io/me/app:1"), "me/app:1");
  assert.equal(familiarName("registry.k8s.io/pause:3.9"), "registry.k8s.io/pause:3.9");
});
