/**
 * Layer from changes (containerd's overlay diff fast path): the upperdir of an
 * overlay snapshot is exactly what changed on top of its lowerdirs, so the
 * layer is the upperdir as a tar with overlay's markers turned back into OCI
 * whiteouts: a 0/0 character device → `.wh.NAME`, a directory with
 * `trusted.overlay.opaque=y` → `DIR/.wh..wh..opq`. Hardlinks within the tree
 * become link entries. A bind-mounted snapshot without parents diffs as its
 * whole tree.
 */
import { createHash, randomBytes } from "node:crypto";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import type { Ctx } from "@sandboxd/core";
import { isAlreadyExists, notImplemented } from "@sandboxd/errdefs";
import type { LocalContentStore } from "../content/store.js";
import type { Mount } from "../snapshots/types.js";
import { lgetxattr } from "../unpack/syscalls.js";
import { tarEnd, tarEntry, type TarEntry } from "./tarwriter.js";

/** The directory whose contents are the diff of `right` over `left`, when that is cheap to know. */
export function diffSource(left: Mount[], right: Mount[]): string {
  const [r] = right;
  if (right.length !== 1 || !r) throw notImplemented("diff: expected one mount on the right");
  const opt = (m: Mount, name: string): string | undefined =>
    m.options.find((o) => o.startsWith(`${name}=`))?.slice(name.length + 1);
  if (r.type === "overlay") {
    const upper = opt(r, "upperdir");
    if (!upper) throw notImplemented("diff: right overlay mount has no upperdir");
    const lower = opt(r, "lowerdir") ?? "";
    const [l] = left;
    const leftDirs =
      left.length === 0
        ? ""
        : l?.type === "bind"
          ? l.source
          : l?.type === "overlay"
            ? (opt(l, "lowerdir") ?? "")
            : undefined;
    if (leftDirs !== lower)
      throw notImplemented("diff: left is not the right mount's lower layers");
    return upper;
  }
  if (r.type === "bind" && left.length === 0) return r.source;
  throw notImplemented(`diff: unsupported mounts (${r.type})`);
}

/** The tar of `root`'s tree as an OCI layer, yielded in chunks (entries sorted by name). */
export async function* treeLayer(root: string): AsyncIterable<Buffer> {
  const links = new Map<string, string>();
  async function* walk(rel: string): AsyncIterable<Buffer> {
    const names = (await readdir(rel ? `${root}/${rel}` : root)).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = `${root}/${path}`;
      const st = await lstat(abs);
      const base: Omit<TarEntry, "name"> = {
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtime: Math.floor(st.mtimeMs / 1000),
      };
      if (st.isCharacterDevice() && st.rdev === 0) {
        yield* tarEntry({ ...base, name: `${rel ? `${rel}/` : ""}.wh.${name}`, mode: 0o644 });
      } else if (st.isDirectory()) {
        yield* tarEntry({ ...base, name: `${path}/`, type: "dir" });
        if (lgetxattr(abs, "trusted.overlay.opaque")?.toString() === "y") {
          yield* tarEntry({ ...base, name: `${path}/.wh..wh..opq`, mode: 0o644 });
        }
        yield* walk(path);
      } else if (st.isSymbolicLink()) {
        yield* tarEntry({ ...base, name: path, type: "symlink", linkname: await readlink(abs) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        if (first) {
          yield* tarEntry({ ...base, name: path, type: "link", linkname: first });
        } else {
          if (st.nlink > 1) links.set(key, path);
          yield* tarEntry({ ...base, name: path, data: await readFile(abs) });
        }
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        yield* tarEntry({
          ...base,
          name: path,
          type: st.isCharacterDevice() ? "char" : "block",
          devmajor: Math.floor(st.rdev / 256) & 0xfff,
          devminor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00),
        });
      } else if (st.isFIFO()) {
        yield* tarEntry({ ...base, name: path, type: "fifo" });
      }
    }
  }
  yield* walk("");
  yield tarEnd;
}

export const layerMediaTypes = {
  tar: "application/vnd.oci.image.layer.v1.tar",
  gzip: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

export interface CommittedLayer {
  mediaType: string;
  digest: string;
  size: number;
  diffId: string;
}

/**
 * Writes `root`'s tree as a layer blob into the content store (gzip unless the
 * uncompressed media type is asked for), labelled `containerd.io/uncompressed`
 * with its diffID. An existing identical blob is fine (AlreadyExists is success).
 */
export async function commitTreeLayer(
  ctx: Ctx,
  content: LocalContentStore,
  root: string,
  options: { mediaType?: string; ref?: string; labels?: Record<string, string> } = {},
): Promise<CommittedLayer> {
  const mediaType = options.mediaType || layerMediaTypes.gzip;
  if (mediaType !== layerMediaTypes.gzip && mediaType !== layerMediaTypes.tar) {
    throw notImplemented(`diff: media type ${mediaType} is not supported`);
  }
  const ref = options.ref || `diff-${randomBytes(8).toString("hex")}`;
  const writer = await content.writer(ctx, { ref });
  const hash = createHash("sha256");
  try {
    if (writer.offset > 0) await writer.truncate(0);
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        writer.write(chunk).then(() => done(), done);
      },
    });
    const stages: (NodeJS.ReadableStream | NodeJS.WritableStream)[] = [
      Readable.from(treeLayer(root)),
      tap,
    ];
    if (mediaType === layerMediaTypes.gzip) stages.push(createGzip());
    stages.push(sink);
    await pipeline(stages, { signal: ctx.signal });
    const diffId = `sha256:${hash.digest("hex")}`;
    const digest = writer.digest();
    const size = writer.offset;
    try {
      await writer.commit(size, digest, {
        ...options.labels,
        "containerd.io/uncompressed": diffId,
      });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    return { mediaType, digest, size, diffId };
  } finally {
    await writer.close();
  }
}
