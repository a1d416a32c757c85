/**
 * A push-based tar reader (ustar, PAX, GNU long names and base-256 numbers),
 * synchronous by design: the unpack worker feeds it decompressed chunks and it
 * calls the sink for each entry's header, its data (sub-arrays of the input,
 * never copied) and its end. PAX `path`, `linkpath`, `size`, `uid`, `gid`,
 * `mtime`, `atime` and `SCHILY.xattr.*` apply to the next entry; PAX global
 * headers are ignored (as containerd does). A zero block ends the archive;
 * bytes after it are still consumed by the caller for the diffID.
 */
import { invalidArgument } from "@sandboxd/errdefs";

export const TypeFlag = {
  File: "0",
  OldFile: "\0",
  Link: "1",
  Symlink: "2",
  Char: "3",
  Block: "4",
  Dir: "5",
  Fifo: "6",
  Contiguous: "7",
} as const;

export interface TarHeader {
  name: string;
  linkname: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch, possibly fractional (PAX). */
  mtime: number;
  atime?: number | undefined;
  devmajor: number;
  devminor: number;
  xattrs?: Map<string, Buffer> | undefined;
}

export interface TarSink {
  header(h: TarHeader): void;
  data(chunk: Buffer): void;
  end(): void;
}

const State = { Header: 0, Data: 1, Meta: 2, Skip: 3, Done: 4 } as const;
type State = (typeof State)[keyof typeof State];

const block = 512;

export class TarParser {
  readonly #sink: TarSink;
  #state: State = State.Header;
  /** Partial header bytes or collected meta-entry bytes. */
  #pending: Buffer[] = [];
  #pendingLength = 0;
  #remaining = 0;
  #padding = 0;
  #metaType = "";
  #pax: Map<string, Buffer> | undefined;
  #longName: string | undefined;
  #longLink: string | undefined;
  #entries = 0;

  constructor(sink: TarSink) {
    this.#sink = sink;
  }

  get done(): boolean {
    return this.#state === State.Done;
  }

  get entries(): number {
    return this.#entries;
  }

  push(chunk: Buffer): void {
    let off = 0;
    const len = chunk.length;
    while (off < len && this.#state !== State.Done) {
      switch (this.#state) {
        case State.Header: {
          let hdr: Buffer;
          if (this.#pendingLength === 0 && len - off >= block) {
            hdr = chunk.subarray(off, off + block);
            off += block;
          } else {
            const take = Math.min(block - this.#pendingLength, len - off);
            this.#pending.push(chunk.subarray(off, off + take));
            this.#pendingLength += take;
            off += take;
            if (this.#pendingLength < block) break;
            hdr = Buffer.concat(this.#pending, block);
            this.#pending = [];
            this.#pendingLength = 0;
          }
          this.#onHeader(hdr);
          break;
        }
        case State.Data: {
          const take = Math.min(this.#remaining, len - off);
          if (take > 0) this.#sink.data(chunk.subarray(off, off + take));
          off += take;
          this.#remaining -= take;
          if (this.#remaining === 0) {
            this.#sink.end();
            this.#afterBody();
          }
          break;
        }
        case State.Meta: {
          const take = Math.min(this.#remaining, len - off);
          this.#pending.push(Buffer.from(chunk.subarray(off, off + take)));
          this.#pendingLength += take;
          off += take;
          this.#remaining -= take;
          if (this.#remaining === 0) {
            const body = Buffer.concat(this.#pending, this.#pendingLength);
            this.#pending = [];
            this.#pendingLength = 0;
            this.#onMeta(body);
            this.#afterBody();
          }
          break;
        }
        case State.Skip: {
          const take = Math.min(this.#padding, len - off);
          off += take;
          this.#padding -= take;
          if (this.#padding === 0) this.#state = State.Header;
          break;
        }
      }
    }
  }

  /** Call at end of input: a truncated entry is InvalidArgument. */
  finish(): void {
    if (this.#state === State.Done) return;
    if (this.#state === State.Header && this.#pendingLength === 0) return;
    throw invalidArgument("tar: unexpected end of archive (truncated layer)");
  }

  #afterBody(): void {
    if (this.#padding > 0) this.#state = State.Skip;
    else this.#state = State.Header;
  }

  #onHeader(h: Buffer): void {
    if (isZero(h)) {
      this.#state = State.Done;
      return;
    }
    verifyChecksum(h);
    const type = String.fromCharCode(h[156] as number);
    const size = parseNumber(h, 124, 12);
    const padding = (block - (size % block)) % block;
    if (type === "x" || type === "g" || type === "L" || type === "K") {
      this.#metaType = type;
      this.#remaining = size;
      this.#padding = padding;
      if (size > 1 << 20)
        throw invalidArgument(`tar: ${type} header of ${size} bytes is too large`);
      this.#state = size > 0 ? State.Meta : padding > 0 ? State.Skip : State.Header;
      if (size === 0) this.#onMeta(Buffer.alloc(0));
      return;
    }
    if (type === "S") throw invalidArgument("tar: sparse files are not supported");
    const magic = h.toString("latin1", 257, 263);
    let name = cstring(h, 0, 100);
    if (magic === "ustar\0") {
      const prefix = cstring(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const pax = this.#pax;
    const header: TarHeader = {
      name: this.#longName ?? name,
      linkname: this.#longLink ?? cstring(h, 157, 100),
      type,
      mode: parseNumber(h, 100, 8),
      uid: parseNumber(h, 108, 8),
      gid: parseNumber(h, 116, 8),
      size,
      mtime: parseNumber(h, 136, 12),
      devmajor: parseNumber(h, 329, 8),
      devminor: parseNumber(h, 337, 8),
    };
    if (pax) applyPax(header, pax);
    this.#pax = undefined;
    this.#longName = undefined;
    this.#longLink = undefined;
    // Only regular files carry data in practice; links and dirs with a size are skipped over.
    const hasData =
      type === TypeFlag.File || type === TypeFlag.OldFile || type === TypeFlag.Contiguous;
    this.#entries++;
    this.#sink.header(header);
    if (hasData && header.size > 0) {
      this.#remaining = header.size;
      this.#padding = (block - (header.size % block)) % block;
      this.#state = State.Data;
    } else {
      this.#sink.end();
      this.#padding = header.size + ((block - (header.size % block)) % block);
      this.#state = this.#padding > 0 ? State.Skip : State.Header;
    }
  }

  #onMeta(body: Buffer): void {
    switch (this.#metaType) {
      case "x":
        this.#pax = parsePax(body, this.#pax);
        break;
      case "L":
        this.#longName = cstring(body, 0, body.length);
        break;
      case "K":
        this.#longLink = cstring(body, 0, body.length);
        break;
      default:
        break; // "g": global headers are ignored
    }
  }
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < block; i++) if (b[i] !== 0) return false;
  return true;
}

function cstring(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString("utf8", off, end < 0 || end > off + len ? off + len : end);
}

/** Octal (NUL/space terminated) or base-256 (high bit of the first byte set). */
function parseNumber(b: Buffer, off: number, len: number): number {
  const first = b[off] as number;
  if (first & 0x80) {
    let n = first === 0xff ? -1 : first & 0x7f;
    for (let i = 1; i < len; i++) n = n * 256 + (b[off + i] as number);
    return n;
  }
  let n = 0;
  let seen = false;
  for (let i = off; i < off + len; i++) {
    const c = b[i] as number;
    if (c === 0x20 || c === 0) {
      if (seen) break;
      continue;
    }
    if (c < 0x30 || c > 0x37) throw invalidArgument(`tar: invalid octal number in header`);
    n = n * 8 + (c - 0x30);
    seen = true;
  }
  return n;
}

function verifyChecksum(h: Buffer): void {
  const want = parseNumber(h, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < block; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : (h[i] as number);
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  if (want !== unsigned && want !== signed) throw invalidArgument("tar: invalid header checksum");
}

/** PAX records: "<len> <key>=<value>\n", values binary-safe. */
function parsePax(body: Buffer, into?: Map<string, Buffer>): Map<string, Buffer> {
  const out = into ?? new Map<string, Buffer>();
  let off = 0;
  while (off < body.length) {
    const space = body.indexOf(0x20, off);
    if (space < 0) break;
    const recLen = Number(body.toString("latin1", off, space));
    if (!Number.isInteger(recLen) || recLen <= 0 || off + recLen > body.length) {
      throw invalidArgument("tar: invalid PAX record");
    }
    const rec = body.subarray(space + 1, off + recLen - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw invalidArgument("tar: invalid PAX record");
    out.set(rec.toString("utf8", 0, eq), Buffer.from(rec.subarray(eq + 1)));
    off += recLen;
  }
  return out;
}

function applyPax(h: TarHeader, pax: Map<string, Buffer>): void {
  for (const [key, value] of pax) {
    const text = (): string => value.toString("utf8");
    switch (key) {
      case "path":
        h.name = text();
        break;
      case "linkpath":
        h.linkname = text();
        break;
      case "size":
        h.size = Number(text());
        break;
      case "uid":
        h.uid = Number(text());
        break;
      case "gid":
        h.gid = Number(text());
        break;
      case "mtime":
        h.mtime = Number(text());
        break;
      case "atime":
        h.atime = Number(text());
        break;
      default:
        if (key.startsWith("SCHILY.xattr.")) {
          h.xattrs ??= new Map();
          h.xattrs.set(key.slice("SCHILY.xattr.".length), value);
        }
    }
  }
  if (!Number.isSafeInteger(h.size) || h.size < 0) throw invalidArgument("tar: invalid PAX size");
}
