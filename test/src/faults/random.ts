// Seeded randomness for the fault tests: every run prints its seed, and
// FAULT_SEED=<n> replays it (cases, orders and kill moments alike).
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/** The run's seed: FAULT_SEED if set (a number, or any string hashed), else a fresh one. */
export const faultSeed: number = (() => {
  const env = process.env.FAULT_SEED;
  if (env === undefined || env === "") return (Date.now() ^ (process.pid << 16)) >>> 0;
  const n = Number(env);
  return Number.isInteger(n) ? n >>> 0 : hash(env);
})();

/** FNV-1a, for deriving a stream per test from the run's seed and a name. */
export function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** How to replay: put this in every assertion message. */
export function replay(): string {
  return `replay with FAULT_SEED=${faultSeed}`;
}

/** mulberry32: small and fast; good enough to pick cases. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed | 0;
  }
  /** A stream for one test: the run's seed mixed with the test's name. */
  static for(name: string): Rng {
    return new Rng(faultSeed ^ hash(name));
  }
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) | 0;
    let x = Math.imul(this.#s ^ (this.#s >>> 15), 1 | this.#s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

/** Strings that have broken parsers and path handling before. */
export const nastyStrings: readonly string[] = [
  "",
  "default",
  "fuzz",
  "../x",
  "../../../../etc/passwd",
  "/etc/passwd",
  "/",
  ".",
  "..",
  "a".repeat(76),
  "a".repeat(77),
  "x\0y",
  "\0",
  "a/b",
  "a\\b",
  "-x",
  "x-",
  "x--y",
  "x..y",
  " x",
  "x\n",
  "é",
  "\u202e",
  "\ud800", // a lone surrogate (invalid UTF-8 once encoded)
  "%2e%2e%2f",
  "a".repeat(4097),
  "topic/../../x",
  "\u0000/../x",
];

function randomString(rng: Rng): string {
  switch (rng.int(4)) {
    case 0:
      return rng.pick(nastyStrings);
    case 1:
      return `fz${rng.int(1000)}`;
    case 2:
      return Array.from({ length: rng.int(40) }, () => String.fromCharCode(rng.int(0x80))).join("");
    default:
      return Array.from({ length: rng.int(20) }, () =>
        String.fromCodePoint(rng.pick([rng.int(0x80), rng.int(0x800), rng.int(0x10000)])),
      ).join("");
  }
}

const interestingInts = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 255, 65536];

function writeScalar(rng: Rng, w: BinaryWriter, no: number, type: ScalarType): void {
  const int = (): number => (rng.chance(0.5) ? rng.pick(interestingInts) : rng.int(2 ** 31));
  const big = (): bigint =>
    rng.chance(0.3)
      ? rng.pick([0n, -1n, 2n ** 63n - 1n, -(2n ** 63n)])
      : BigInt(rng.int(2 ** 31)) * BigInt(rng.int(2 ** 31));
  const ubig = (): bigint =>
    rng.chance(0.3) ? rng.pick([0n, 2n ** 64n - 1n]) : BigInt(rng.int(2 ** 31));
  switch (type) {
    case ScalarType.DOUBLE:
      w.tag(no, WireType.Bit64).double(rng.pick([0, -0, NaN, Infinity, rng.next() * 1e300]));
      return;
    case ScalarType.FLOAT:
      w.tag(no, WireType.Bit32).float(rng.pick([0, NaN, rng.next() * 1e30]));
      return;
    case ScalarType.INT64:
      w.tag(no, WireType.Varint).int64(big());
      return;
    case ScalarType.UINT64:
      w.tag(no, WireType.Varint).uint64(ubig());
      return;
    case ScalarType.INT32:
      w.tag(no, WireType.Varint).int32(int());
      return;
    case ScalarType.FIXED64:
      w.tag(no, WireType.Bit64).fixed64(ubig());
      return;
    case ScalarType.FIXED32:
      w.tag(no, WireType.Bit32).fixed32(rng.int(2 ** 32));
      return;
    case ScalarType.BOOL:
      w.tag(no, WireType.Varint).bool(rng.chance(0.5));
      return;
    case ScalarType.STRING:
      w.tag(no, WireType.LengthDelimited).string(randomString(rng));
      return;
    case ScalarType.BYTES:
      w.tag(no, WireType.LengthDelimited).bytes(rng.bytes(rng.int(64)));
      return;
    case ScalarType.UINT32:
      w.tag(no, WireType.Varint).uint32(rng.int(2 ** 32));
      return;
    case ScalarType.SFIXED32:
      w.tag(no, WireType.Bit32).sfixed32(int());
      return;
    case ScalarType.SFIXED64:
      w.tag(no, WireType.Bit64).sfixed64(big());
      return;
    case ScalarType.SINT32:
      w.tag(no, WireType.Varint).sint32(int());
      return;
    case ScalarType.SINT64:
      w.tag(no, WireType.Varint).sint64(big());
      return;
  }
}

function writeMessage(
  rng: Rng,
  w: BinaryWriter,
  no: number,
  desc: DescMessage,
  depth: number,
): void {
  w.tag(no, WireType.LengthDelimited).fork();
  writeFields(rng, w, desc, depth + 1);
  w.join();
}

function writeField(rng: Rng, w: BinaryWriter, f: DescField, depth: number): void {
  const no = f.number;
  switch (f.fieldKind) {
    case "scalar":
      writeScalar(rng, w, no, f.scalar);
      return;
    case "enum":
      w.tag(no, WireType.Varint).int32(
        rng.chance(0.8) ? rng.pick(f.enum.values).number : rng.int(1000) - 500,
      );
      return;
    case "message":
      writeMessage(rng, w, no, f.message, depth);
      return;
    case "list": {
      const n = rng.int(4);
      for (let i = 0; i < n; i++) {
        if (f.listKind === "scalar") writeScalar(rng, w, no, f.scalar);
        else if (f.listKind === "enum") w.tag(no, WireType.Varint).int32(rng.int(10));
        else writeMessage(rng, w, no, f.message, depth);
      }
      return;
    }
    case "map": {
      const n = rng.int(4);
      for (let i = 0; i < n; i++) {
        w.tag(no, WireType.LengthDelimited).fork();
        writeScalar(rng, w, 1, f.mapKey);
        if (f.mapKind === "scalar") writeScalar(rng, w, 2, f.scalar);
        else if (f.mapKind === "enum") w.tag(2, WireType.Varint).int32(rng.int(10));
        else writeMessage(rng, w, 2, f.message, depth);
        w.join();
      }
      return;
    }
  }
}

function writeFields(rng: Rng, w: BinaryWriter, desc: DescMessage, depth: number): void {
  if (depth > 4) return;
  for (const f of desc.fields) {
    // Fields of a oneof: usually at most one of them, sometimes several (last wins).
    const p = f.oneof ? 0.3 : 0.6;
    if (rng.chance(p)) writeField(rng, w, f, depth);
  }
}

/** A random message of type `desc`, valid on the wire, with hostile values. */
export function randomMessage(rng: Rng, desc: DescMessage): Uint8Array {
  const w = new BinaryWriter();
  writeFields(rng, w, desc, 0);
  return w.finish();
}

/** `bytes` changed a little or a lot: bit flips, insertions, deletions, truncation, splices. */
export function mutate(rng: Rng, bytes: Uint8Array): Uint8Array {
  let out = Array.from(bytes);
  const rounds = 1 + rng.int(4);
  for (let r = 0; r < rounds; r++) {
    const at = out.length ? rng.int(out.length) : 0;
    switch (rng.int(7)) {
      case 0:
        if (out.length) out[at] = out[at]! ^ (1 << rng.int(8));
        break;
      case 1:
        out.splice(at, 0, ...rng.bytes(1 + rng.int(8)));
        break;
      case 2:
        out.splice(at, 1 + rng.int(8));
        break;
      case 3:
        out = out.slice(0, at);
        break;
      case 4:
        // An overlong or huge varint (a length prefix that lies).
        out.splice(at, 0, 0xff, 0xff, 0xff, 0xff, 0x0f);
        break;
      case 5:
        out.splice(at, 0, ...out.slice(rng.int(out.length + 1)));
        break;
      default:
        if (out.length) out[at] = rng.pick([0x00, 0xff, 0x7f, 0x80, 0x0a, 0x12]);
    }
  }
  return Uint8Array.from(out);
}
