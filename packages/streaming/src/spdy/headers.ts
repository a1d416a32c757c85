/**
 * SPDY/3 header blocks (draft 3.1, section 2.6.10): a 32-bit pair count, then length-prefixed
 * names and values; names are lowercase, several values of one name are joined by NUL. Each
 * direction of a session is one zlib stream seeded with the SPDY/3 dictionary, every block ending
 * in a sync flush, so blocks are compressed and decompressed strictly in frame order.
 */
import zlib from "node:zlib";
import { headerDictionary } from "./dictionary.js";
import { SpdyProtocolError } from "./frames.js";
import { messageOf } from "@sandboxd/errdefs";

/** Header names are lowercase; a value holding several values separates them by "\0". */
export type SpdyHeaders = Record<string, string>;

export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const entries = Object.entries(headers);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(entries.length);
  parts.push(count);
  for (const [name, value] of entries) {
    for (const s of [name.toLowerCase(), value]) {
      const b = Buffer.from(s, "utf8");
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      parts.push(len, b);
    }
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(block: Buffer): SpdyHeaders {
  const headers: SpdyHeaders = {};
  const read = (at: number): [string, number] => {
    if (at + 4 > block.length) throw new SpdyProtocolError("truncated spdy header block");
    const n = block.readUInt32BE(at);
    if (at + 4 + n > block.length) throw new SpdyProtocolError("truncated spdy header block");
    return [block.toString("utf8", at + 4, at + 4 + n), at + 4 + n];
  };
  if (block.length < 4) throw new SpdyProtocolError("truncated spdy header block");
  const count = block.readUInt32BE(0);
  let at = 4;
  for (let i = 0; i < count; i++) {
    const [name, next] = read(at);
    const [value, after] = read(next);
    at = after;
    headers[name.toLowerCase()] = value;
  }
  return headers;
}

/** One direction's zlib stream; calls are serialized so blocks keep their order. */
class ZlibChannel {
  private queue: Promise<unknown> = Promise.resolve();
  private failure: Error | null = null;
  private readonly stream: zlib.Deflate | zlib.Inflate;

  constructor(stream: zlib.Deflate | zlib.Inflate) {
    this.stream = stream;
    stream.on("error", (err: Error) => {
      this.failure = err;
    });
  }

  run(input: Buffer): Promise<Buffer> {
    const next = this.queue.then(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          if (this.failure) return reject(this.failure);
          const onError = (err: Error): void => reject(err);
          this.stream.once("error", onError);
          this.stream.write(input);
          this.stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
            this.stream.off("error", onError);
            if (this.failure) return reject(this.failure);
            const out: Buffer[] = [];
            for (
              let c = this.stream.read() as Buffer | null;
              c;
              c = this.stream.read() as Buffer | null
            ) {
              out.push(c);
            }
            resolve(Buffer.concat(out));
          });
        }),
    );
    this.queue = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.stream.destroy();
  }
}

/** The header compression state of one session: a compressor out, a decompressor in. */
export class HeaderCodec {
  private readonly out = new ZlibChannel(
    zlib.createDeflate({ dictionary: headerDictionary, level: zlib.constants.Z_BEST_COMPRESSION }),
  );
  private readonly in = new ZlibChannel(zlib.createInflate({ dictionary: headerDictionary }));

  compress(headers: SpdyHeaders): Promise<Buffer> {
    return this.out.run(encodeHeaderBlock(headers));
  }

  async decompress(block: Buffer): Promise<SpdyHeaders> {
    if (block.length === 0) return {};
    try {
      return decodeHeaderBlock(await this.in.run(block));
    } catch (err) {
      if (err instanceof SpdyProtocolError) throw err;
      throw new SpdyProtocolError(`spdy header block: ${messageOf(err)}`);
    }
  }

  close(): void {
    this.out.close();
    this.in.close();
  }
}
