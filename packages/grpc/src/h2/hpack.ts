/**
 * HPACK (RFC 7541) for a gRPC client: the encoder sends every field as a
 * literal that is never indexed (or as a static-table index when name and value
 * match), so it keeps no dynamic table and the server's table size setting
 * cannot matter; the decoder keeps the full dynamic table the server's encoder
 * may use, and decodes Huffman-coded strings.
 */
import { huffmanDecode } from "./huffman.js";

/** The static table (RFC 7541 Appendix A), entries 1..61; each "name value" or "name". */
const staticEntries = [
  ":authority",
  ":method GET",
  ":method POST",
  ":path /",
  ":path /index.html",
  ":scheme http",
  ":scheme https",
  ":status 200",
  ":status 204",
  ":status 206",
  ":status 304",
  ":status 400",
  ":status 404",
  ":status 500",
  "accept-charset",
  "accept-encoding gzip, deflate",
  "accept-language",
  "accept-ranges",
  "accept",
  "access-control-allow-origin",
  "age",
  "allow",
  "authorization",
  "cache-control",
  "content-disposition",
  "content-encoding",
  "content-language",
  "content-length",
  "content-location",
  "content-range",
  "content-type",
  "cookie",
  "date",
  "etag",
  "expect",
  "expires",
  "from",
  "host",
  "if-match",
  "if-modified-since",
  "if-none-match",
  "if-range",
  "if-unmodified-since",
  "last-modified",
  "link",
  "location",
  "max-forwards",
  "proxy-authenticate",
  "proxy-authorization",
  "range",
  "referer",
  "refresh",
  "retry-after",
  "server",
  "set-cookie",
  "strict-transport-security",
  "transfer-encoding",
  "user-agent",
  "vary",
  "via",
  "www-authenticate",
];

type Field = readonly [name: string, value: string];

const staticTable: Field[] = staticEntries.map((e) => {
  const space = e.indexOf(" ", 1);
  return space < 0 ? [e, ""] : [e.slice(0, space), e.slice(space + 1)];
});

/** Where a name (or name and value) sits in the static table, 1-based. */
const staticIndex = new Map<string, number>();
for (let i = staticTable.length - 1; i >= 0; i--) {
  const [name, value] = staticTable[i]!;
  staticIndex.set(name, i + 1);
  if (value) staticIndex.set(`${name}\0${value}`, i + 1);
}

export class HpackError extends Error {}

/** Appends an HPACK integer with an N-bit prefix; `flags` fills the prefix byte's high bits. */
function pushInt(out: number[], value: number, prefixBits: number, flags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}

function pushString(out: number[], text: string): void {
  const bytes = Buffer.from(text, "latin1");
  pushInt(out, bytes.length, 7, 0);
  for (const b of bytes) out.push(b);
}

/** One header block; names must be lowercase (gRPC metadata is). */
export function encodeHeaders(fields: Iterable<Field>): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    const exact = staticIndex.get(`${name}\0${value}`);
    if (exact !== undefined) {
      pushInt(out, exact, 7, 0x80);
      continue;
    }
    const nameIndex = staticIndex.get(name);
    // Literal never indexed (0001xxxx): no table on either side changes.
    if (nameIndex !== undefined) {
      pushInt(out, nameIndex, 4, 0x10);
    } else {
      out.push(0x10);
      pushString(out, name);
    }
    pushString(out, value);
  }
  return Buffer.from(out);
}

/** The decoding side of one connection: its dynamic table lives as long as the connection. */
export class HpackDecoder {
  #dynamic: Field[] = [];
  #size = 0;
  #maxSize: number;
  readonly #limit: number;

  /** `limit` is the table size this side announced (SETTINGS_HEADER_TABLE_SIZE). */
  constructor(limit = 4096) {
    this.#limit = limit;
    this.#maxSize = limit;
  }

  /** The fields of one complete header block, in order. */
  decode(block: Uint8Array): Field[] {
    const fields: Field[] = [];
    let at = 0;
    const int = (prefixBits: number): number => {
      if (at >= block.length) throw new HpackError("header block ends inside an integer");
      const max = (1 << prefixBits) - 1;
      let value = block[at++]! & max;
      if (value < max) return value;
      let shift = 0;
      for (;;) {
        if (at >= block.length) throw new HpackError("header block ends inside an integer");
        const b = block[at++]!;
        value += (b & 127) * 2 ** shift;
        shift += 7;
        if (value > 0xffffffff) throw new HpackError("HPACK integer too large");
        if ((b & 128) === 0) return value;
      }
    };
    const string = (): string => {
      if (at >= block.length) throw new HpackError("header block ends before a string");
      const huffman = (block[at]! & 0x80) !== 0;
      const length = int(7);
      if (at + length > block.length) throw new HpackError("string longer than the header block");
      const bytes = block.subarray(at, at + length);
      at += length;
      if (!huffman) return Buffer.from(bytes).toString("latin1");
      try {
        return huffmanDecode(bytes);
      } catch (err) {
        throw new HpackError(err instanceof Error ? err.message : String(err));
      }
    };
    while (at < block.length) {
      const b = block[at]!;
      if (b & 0x80) {
        fields.push(this.#entry(int(7)));
      } else if ((b & 0xe0) === 0x20) {
        const size = int(5);
        if (size > this.#limit)
          throw new HpackError(`table size update ${size} over ${this.#limit}`);
        this.#maxSize = size;
        this.#evict(0);
      } else {
        // 01xxxxxx: incremental indexing; 0000xxxx / 0001xxxx: without / never indexed.
        const indexing = (b & 0xc0) === 0x40;
        const index = int(indexing ? 6 : 4);
        const name = index === 0 ? string() : this.#entry(index)[0];
        const field: Field = [name, string()];
        fields.push(field);
        if (indexing) this.#add(field);
      }
    }
    return fields;
  }

  #entry(index: number): Field {
    if (index === 0) throw new HpackError("header index 0");
    if (index <= staticTable.length) return staticTable[index - 1]!;
    const field = this.#dynamic[index - staticTable.length - 1];
    if (!field) throw new HpackError(`header index ${index} is not in the table`);
    return field;
  }

  #add(field: Field): void {
    const size = 32 + Buffer.byteLength(field[0], "latin1") + Buffer.byteLength(field[1], "latin1");
    if (size > this.#maxSize) {
      this.#dynamic = [];
      this.#size = 0;
      return;
    }
    this.#evict(size);
    this.#dynamic.unshift(field);
    this.#size += size;
  }

  /** Drops the oldest entries until `room` more bytes fit. */
  #evict(room: number): void {
    while (this.#size + room > this.#maxSize && this.#dynamic.length > 0) {
      const [name, value] = this.#dynamic.pop()!;
      this.#size -= 32 + name.length + value.length;
    }
  }
}
