// Hand-built image archives for the ctr interop tests: a busybox-static image
// of two gzip layers (the second with a whiteout and an opaque directory), as
// an OCI layout tar and as a docker-archive tar. No network.
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { tarArchive, type TarEntry } from "@sandboxd/images";

export interface BuiltImage {
  /** Digests of every blob the image consists of (manifest, config, layers). */
  blobs: string[];
  manifestDigest: string;
  diffIds: string[];
}

const sha = (b: Uint8Array): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const hex = (d: string): string => d.slice(7);

async function layers(): Promise<Buffer[]> {
  const busybox = await readFile("/usr/bin/busybox");
  const applets = ["sh", "cat", "ls", "echo", "true", "test"];
  const l1: TarEntry[] = [
    { name: "bin/", type: "dir", mode: 0o755 },
    { name: "bin/busybox", data: busybox, mode: 0o755 },
    ...applets.map((a): TarEntry => ({ name: `bin/${a}`, type: "symlink", linkname: "busybox" })),
    { name: "etc/", type: "dir", mode: 0o755 },
    { name: "etc/hello", data: "hello from layer 1\n" },
    { name: "etc/gone", data: "whited out by layer 2\n" },
    { name: "dir/", type: "dir", mode: 0o755 },
    { name: "dir/a", data: "a\n" },
    { name: "dir/b", data: "b\n" },
  ];
  const l2: TarEntry[] = [
    { name: "etc/", type: "dir", mode: 0o755 },
    { name: "etc/.wh.gone" },
    { name: "etc/layer2", data: "layer 2\n" },
    { name: "dir/", type: "dir", mode: 0o755 },
    { name: "dir/.wh..wh..opq" },
    { name: "dir/c", data: "c\n" },
  ];
  return [tarArchive(l1), tarArchive(l2)];
}

function config(diffIds: string[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Env: ["PATH=/bin"], Cmd: ["/bin/sh"], WorkingDir: "/" },
      rootfs: { type: "layers", diff_ids: diffIds },
    }),
  );
}

/** An OCI image layout tar at `path`, named `name` (io.containerd.image.name). */
export async function writeOciArchive(path: string, name: string): Promise<BuiltImage> {
  const tars = await layers();
  const diffIds = tars.map(sha);
  const gz = tars.map((t) => gzipSync(t));
  const cfg = config(diffIds);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: sha(cfg),
        size: cfg.length,
      },
      layers: gz.map((g) => ({
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: sha(g),
        size: g.length,
      })),
    }),
  );
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: sha(manifest),
          size: manifest.length,
          annotations: {
            "io.containerd.image.name": name,
            "org.opencontainers.image.ref.name": "latest",
          },
        },
      ],
    }),
  );
  const blobs = [manifest, cfg, ...gz];
  const entries: TarEntry[] = [
    { name: "oci-layout", data: JSON.stringify({ imageLayoutVersion: "1.0.0" }) },
    { name: "index.json", data: index },
    { name: "blobs/", type: "dir" },
    { name: "blobs/sha256/", type: "dir" },
    ...blobs.map((b): TarEntry => ({ name: `blobs/sha256/${hex(sha(b))}`, data: b })),
  ];
  await writeFile(path, tarArchive(entries));
  return { blobs: blobs.map(sha), manifestDigest: sha(manifest), diffIds };
}

/** A `docker save` style tar at `path` with RepoTags [tag]. */
export async function writeDockerArchive(
  path: string,
  tag: string,
): Promise<{ diffIds: string[] }> {
  const tars = await layers();
  const diffIds = tars.map(sha);
  const cfg = config(diffIds);
  const cfgName = `${hex(sha(cfg))}.json`;
  const layerNames = tars.map((t) => `${hex(sha(t))}/layer.tar`);
  const manifest = JSON.stringify([{ Config: cfgName, RepoTags: [tag], Layers: layerNames }]);
  const entries: TarEntry[] = [
    { name: cfgName, data: cfg },
    ...tars.flatMap((t, i): TarEntry[] => [
      { name: `${hex(sha(t))}/`, type: "dir" },
      { name: layerNames[i] as string, data: t },
    ]),
    { name: "manifest.json", data: manifest },
  ];
  await writeFile(path, tarArchive(entries));
  return { diffIds };
}
