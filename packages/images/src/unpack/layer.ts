/**
 * Reading one layer blob: decompression chosen by magic bytes (gzip, zstd
 * incl. skippable frames, else plain tar), the tar stream hashed into the
 * diffID and fed to a sink. Every byte is read, trailing ones included, so the
 * diffID covers the whole uncompressed stream as containerd's does.
 */
import { createHash } from "node:crypto";
import { createReadStream, openSync, readSync, closeSync } from "node:fs";
import { createGunzip, createZstdDecompress } from "node:zlib";
import { invalidArgument, messageOf } from "@sandboxd/errdefs";
import { TarParser, type TarSink } from "./tar.js";

export type Compression = "gzip" | "zstd" | "none";

export function detectCompression(head: Buffer): Compression {
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return "gzip";
  if (head.length >= 4) {
    const magic = head.readUInt32LE(0);
    if (magic === 0xfd2fb528) return "zstd";
    if ((magic & 0xfffffff0) === 0x184d2a50) return "zstd";
  }
  return "none";
}

function readHead(path: string): Buffer {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(4);
    const n = readSync(fd, buf, 0, 4, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export interface LayerResult {
  /** sha256 of the uncompressed tar: the layer's diffID. */
  diffId: string;
  /** Uncompressed size in bytes. */
  size: number;
  compression: Compression;
  entries: number;
}

/** Streams `blobPath` through decompression and the tar parser into `sink`. */
export async function readLayer(blobPath: string, sink: TarSink): Promise<LayerResult> {
  const compression = detectCompression(readHead(blobPath));
  const file = createReadStream(blobPath, { highWaterMark: 1 << 20 });
  const source =
    compression === "gzip"
      ? file.pipe(createGunzip({ chunkSize: 1 << 18 }))
      : compression === "zstd"
        ? file.pipe(createZstdDecompress({ chunkSize: 1 << 18 }))
        : file;
  file.on("error", (err) => source.destroy(err));
  const hash = createHash("sha256");
  const parser = new TarParser(sink);
  let size = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
      if (!parser.done) parser.push(chunk);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (
      code.startsWith("Z_") ||
      code.startsWith("ERR_ZSTD") ||
      code === "ERR_ZLIB_INITIALIZATION_FAILED"
    ) {
      throw invalidArgument(`layer ${compression} stream: ${messageOf(err)}`, {
        cause: err,
      });
    }
    throw err;
  } finally {
    file.destroy();
  }
  parser.finish();
  if (parser.entries === 0 && size > 0 && !parser.done) {
    throw invalidArgument("layer is not a tar archive");
  }
  return { diffId: `sha256:${hash.digest("hex")}`, size, compression, entries: parser.entries };
}
