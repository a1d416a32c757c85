// An image's /etc/passwd and /etc/group, read from its layers through content.v1 (as
// containerd's WithUser reads them from the rootfs): each layer decompressed and scanned as
// a tar stream, lower layers first, whiteouts and opaque directories applied.
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createZstdDecompress } from "node:zlib";
import type { CallOptions } from "./call-options.js";
import type { Session } from "./session.js";

export interface LayerDesc {
  mediaType: string;
  digest: string;
}

const wanted = new Set(["etc/passwd", "etc/group"]);

export interface LayerFiles {
  files: Map<string, string>;
  whiteouts: Set<string>;
  /** `etc/` replaced (opaque, or whited out as a whole). */
  resetEtc: boolean;
}

function field(h: Buffer, at: number, len: number): string {
  const raw = h.subarray(at, at + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? len : nul).toString("utf8");
}

function sizeOf(h: Buffer): number {
  const raw = h.subarray(124, 136);
  if ((raw[0] ?? 0) & 0x80) return Number(raw.readBigUInt64BE(4));
  return parseInt(field(h, 124, 12).trim() || "0", 8);
}

/** A streaming tar scanner that keeps regular files named in `wanted`. @internal */
export class TarScan {
  readonly out: LayerFiles = { files: new Map(), whiteouts: new Set(), resetEtc: false };
  #buf: Buffer = Buffer.alloc(0);
  #skip = 0;
  #keep: { name: string; left: number; chunks: Buffer[] } | undefined;

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    for (;;) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, this.#buf.length);
        if (take === 0) return;
        const keep = this.#keep;
        if (keep && keep.left > 0) {
          const n = Math.min(keep.left, take);
          keep.chunks.push(this.#buf.subarray(0, n));
          keep.left -= n;
          if (keep.left === 0) {
            this.out.files.set(keep.name, Buffer.concat(keep.chunks).toString("utf8"));
            this.#keep = undefined;
          }
        }
        this.#buf = this.#buf.subarray(take);
        this.#skip -= take;
        continue;
      }
      if (this.#buf.length < 512) return;
      const h = this.#buf.subarray(0, 512);
      this.#buf = this.#buf.subarray(512);
      if (h.every((b) => b === 0)) continue;
      this.#entry(h);
    }
  }

  #entry(h: Buffer): void {
    const prefix = field(h, 345, 155);
    const name = (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100))
      .replace(/^(\.?\/)+/, "")
      .replace(/\/$/, "");
    const size = sizeOf(h);
    const type = String.fromCharCode(h[156] ?? 0);
    this.#skip = Math.ceil(size / 512) * 512;
    const slash = name.lastIndexOf("/");
    const dir = slash < 0 ? "" : name.slice(0, slash);
    const base = name.slice(slash + 1);
    if (base === ".wh..wh..opq") {
      if (dir === "etc") this.out.resetEtc = true;
    } else if (base.startsWith(".wh.")) {
      const target = dir ? `${dir}/${base.slice(4)}` : base.slice(4);
      if (target === "etc") this.out.resetEtc = true;
      if (wanted.has(target)) this.out.whiteouts.add(target);
    } else if (wanted.has(name)) {
      if ((type === "0" || type === "\0") && size > 0)
        this.#keep = { name, left: size, chunks: [] };
      else if (type === "0" || type === "\0") this.out.files.set(name, "");
      // A link or anything else hides a lower file; it is not followed.
      else this.out.whiteouts.add(name);
    }
  }
}

async function scanLayer(session: Session, layer: LayerDesc, call?: CallOptions) {
  const source = Readable.from(
    (async function* () {
      for await (const r of session.services.content.read(
        { digest: layer.digest },
        session.call(call),
      ))
        yield Buffer.from(r.data);
    })(),
  );
  const scan = new TarScan();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      scan.push(chunk);
      done();
    },
  });
  if (/gzip/.test(layer.mediaType)) await pipeline(source, createGunzip(), sink);
  else if (/zstd/.test(layer.mediaType)) await pipeline(source, createZstdDecompress(), sink);
  else await pipeline(source, sink);
  return scan.out;
}

/** The image's /etc/passwd and /etc/group (undefined when absent). */
export async function imageUserFiles(
  session: Session,
  layers: readonly LayerDesc[],
  call?: CallOptions,
): Promise<{ passwd?: string; group?: string }> {
  const scanned: LayerFiles[] = [];
  for (const layer of layers) scanned.push(await scanLayer(session, layer, call));
  return mergeLayers(scanned);
}

/** The files of layers applied lowest first. @internal */
export function mergeLayers(layers: readonly LayerFiles[]): { passwd?: string; group?: string } {
  const files = new Map<string, string>();
  for (const out of layers) {
    if (out.resetEtc) files.clear();
    for (const w of out.whiteouts) files.delete(w);
    for (const [name, text] of out.files) files.set(name, text);
  }
  const passwd = files.get("etc/passwd");
  const group = files.get("etc/group");
  return { ...(passwd === undefined ? {} : { passwd }), ...(group === undefined ? {} : { group }) };
}
