/**
 * A small tar writer (ustar headers, PAX records for long names, big numbers
 * and xattrs; GNU long names on request) for export archives and for tests
 * that craft layers. Produces Buffers; the caller streams them.
 */
export interface TarEntry {
  name: string;
  type?: "file" | "dir" | "symlink" | "link" | "char" | "block" | "fifo";
  data?: Uint8Array | string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, string | Uint8Array>;
  /** Encode a long name as a GNU 'L' entry instead of PAX. */
  gnuLongName?: boolean;
}

const typeFlags = {
  file: "0",
  link: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
} as const;

function octal(buf: Buffer, off: number, len: number, value: number): void {
  buf.write(`${value.toString(8).padStart(len - 1, "0")}\0`, off, len, "latin1");
}

function header(name: string, type: string, e: TarEntry, size: number, linkname: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, "utf8");
  octal(h, 100, 8, e.mode ?? (type === "5" ? 0o755 : 0o644));
  octal(h, 108, 8, e.uid ?? 0);
  octal(h, 116, 8, e.gid ?? 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, Math.floor(e.mtime ?? 0));
  h.write("        ", 148, 8, "latin1");
  h.write(type, 156, 1, "latin1");
  h.write(linkname, 157, 100, "utf8");
  h.write("ustar\u000000", 257, 8, "latin1");
  octal(h, 329, 8, e.devmajor ?? 0);
  octal(h, 337, 8, e.devminor ?? 0);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
  return h;
}

function pad(data: Buffer): Buffer[] {
  const rem = data.length % 512;
  return rem === 0 ? [data] : [data, Buffer.alloc(512 - rem)];
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from("\n")]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** One entry's blocks (headers, data, padding). */
export function tarEntry(e: TarEntry): Buffer[] {
  const type = typeFlags[e.type ?? "file"];
  const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
  const linkname = e.linkname ?? "";
  const out: Buffer[] = [];
  const records: Buffer[] = [];
  let name = e.name;
  if (Buffer.byteLength(name) > 100) {
    if (e.gnuLongName) {
      const body = Buffer.from(`${name}\0`);
      out.push(header("././@LongLink", "L", {} as TarEntry, body.length, ""), ...pad(body));
    } else {
      records.push(paxRecord("path", Buffer.from(name)));
    }
    name = name.slice(0, 100);
  }
  if (Buffer.byteLength(linkname) > 100) records.push(paxRecord("linkpath", Buffer.from(linkname)));
  for (const [k, v] of Object.entries(e.xattrs ?? {})) {
    records.push(paxRecord(`SCHILY.xattr.${k}`, Buffer.from(v)));
  }
  if (records.length > 0) {
    const body = Buffer.concat(records);
    out.push(header("PaxHeaders/x", "x", {} as TarEntry, body.length, ""), ...pad(body));
  }
  out.push(header(name, type, e, type === "0" ? data.length : 0, linkname.slice(0, 100)));
  if (type === "0" && data.length > 0) out.push(...pad(data));
  return out;
}

/** A whole archive with its two zero end blocks. */
export function tarArchive(entries: TarEntry[]): Buffer {
  return Buffer.concat([...entries.flatMap(tarEntry), Buffer.alloc(1024)]);
}

/** The end-of-archive marker, for streaming writers. */
export const tarEnd = Buffer.alloc(1024);

/** The header of a regular file (name ≤ 100 bytes) whose `size` bytes the caller streams. */
export function tarFileHeader(name: string, size: number, mode = 0o444): Buffer {
  return header(name, typeFlags.file, { name, mode }, size, "");
}

/** The zero padding after `size` bytes of file data. */
export function tarPadding(size: number): Buffer {
  const rem = size % 512;
  return Buffer.alloc(rem === 0 ? 0 : 512 - rem);
}
