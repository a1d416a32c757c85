/**
 * A hand-written tar writer (ustar + PAX extended headers) for test image layers: the
 * entries are exactly what the test says, including names no archiver would write
 * (`../x`, `/abs`), which is the point of the hostile-layer tests.
 */

export type TarEntryType = "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo";

export interface TarEntry {
  readonly name: string;
  readonly type?: TarEntryType;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Seconds since the epoch; default 0 (reproducible layers). */
  readonly mtime?: number;
  readonly data?: Uint8Array | string;
  /** Target of a symlink or hardlink. */
  readonly linkname?: string;
  readonly devmajor?: number;
  readonly devminor?: number;
  /** Written as PAX `SCHILY.xattr.<name>` records. */
  readonly xattrs?: Readonly<Record<string, string>>;
}

const typeFlags: Record<TarEntryType, string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
};

function octal(buf: Buffer, offset: number, width: number, value: number): void {
  buf.write(value.toString(8).padStart(width - 1, "0") + "\0", offset, width, "ascii");
}

function header(
  name: string,
  flag: string,
  size: number,
  e: Omit<TarEntry, "name" | "data">,
  linkname: string,
): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 100, "utf8");
  octal(h, 100, 8, e.mode ?? (flag === "5" ? 0o755 : 0o644));
  octal(h, 108, 8, e.uid ?? 0);
  octal(h, 116, 8, e.gid ?? 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, e.mtime ?? 0);
  h.fill(" ", 148, 156);
  h.write(flag, 156, 1, "ascii");
  h.write(linkname.slice(0, 100), 157, 100, "utf8");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  octal(h, 329, 8, e.devmajor ?? 0);
  octal(h, 337, 8, e.devminor ?? 0);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
  return h;
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len += 1;
  return Buffer.from(`${len}${body}`);
}

function padded(data: Buffer): Buffer[] {
  const rest = data.length % 512;
  return rest === 0 ? [data] : [data, Buffer.alloc(512 - rest)];
}

/** The tar stream (uncompressed) of `entries`, in order, with the two zero end blocks. */
export function tar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? "file";
    const data = type === "file" ? Buffer.from(e.data ?? "") : Buffer.alloc(0);
    const linkname = e.linkname ?? "";
    const pax: Buffer[] = [];
    if (Buffer.byteLength(e.name) > 100) pax.push(paxRecord("path", e.name));
    if (Buffer.byteLength(linkname) > 100) pax.push(paxRecord("linkpath", linkname));
    for (const [k, v] of Object.entries(e.xattrs ?? {}))
      pax.push(paxRecord(`SCHILY.xattr.${k}`, v));
    if (pax.length > 0) {
      const body = Buffer.concat(pax);
      parts.push(header("PaxHeader", "x", body.length, {}, ""), ...padded(body));
    }
    parts.push(header(e.name, typeFlags[type], data.length, e, linkname), ...padded(data));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
