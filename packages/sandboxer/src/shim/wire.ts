/**
 * Just enough protobuf and ttrpc for the shim's hot path. `start` and `delete`
 * run for every container under stock containerd; loading protobuf-es and the
 * ttrpc library costs more than everything else they do (≈ 50 ms per call), so
 * the handful of small messages they exchange are encoded here by field number
 * (checked against the generated code in wire.test.ts).
 */
import net from "node:net";

// ---- protobuf ----

type Value = string | number | bigint | Uint8Array | Field[] | undefined;
/** A field to encode: number, wire form, value. Nested messages are field lists. */
export type Field = [number, "string" | "varint" | "bytes" | "message", Value];

function varint(n: bigint | number): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

export function encode(fields: readonly Field[]): Uint8Array {
  const out: number[] = [];
  const lengthDelimited = (num: number, bytes: Uint8Array): void => {
    out.push(...varint((num << 3) | 2), ...varint(bytes.length));
    for (const b of bytes) out.push(b);
  };
  for (const [num, kind, value] of fields) {
    if (value === undefined) continue;
    switch (kind) {
      case "varint":
        if (value === 0 || value === 0n) break;
        out.push(...varint(num << 3), ...varint(value as number | bigint));
        break;
      case "string":
        if (value === "") break;
        lengthDelimited(num, new TextEncoder().encode(value as string));
        break;
      case "bytes":
        lengthDelimited(num, value as Uint8Array);
        break;
      case "message":
        lengthDelimited(num, encode(value as Field[]));
        break;
    }
  }
  return Uint8Array.from(out);
}

/** Decoded fields by number: varints as bigint, length-delimited as bytes (last one wins). */
export function decode(bytes: Uint8Array): Map<number, bigint | Uint8Array> {
  const out = new Map<number, bigint | Uint8Array>();
  let pos = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= bytes.length) throw new Error("protobuf: truncated varint");
      const b = bytes[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < bytes.length) {
    const key = Number(readVarint());
    const num = key >>> 3;
    switch (key & 7) {
      case 0:
        out.set(num, readVarint());
        break;
      case 2: {
        const len = Number(readVarint());
        if (pos + len > bytes.length) throw new Error("protobuf: truncated field");
        out.set(num, bytes.subarray(pos, pos + len));
        pos += len;
        break;
      }
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      default:
        throw new Error(`protobuf: unsupported wire type ${key & 7}`);
    }
  }
  return out;
}

export function str(v: bigint | Uint8Array | undefined): string {
  return v instanceof Uint8Array ? new TextDecoder().decode(v) : "";
}

export function num(v: bigint | Uint8Array | undefined): number {
  return typeof v === "bigint" ? Number(BigInt.asIntN(64, v)) : 0;
}

/** google.protobuf.Timestamp fields for epoch ms. */
export function timestamp(ms: number): Field[] {
  const whole = Math.floor(ms);
  return [
    [1, "varint", BigInt(Math.floor(whole / 1000))],
    [2, "varint", (whole % 1000) * 1_000_000],
  ];
}

export function timestampMs(v: bigint | Uint8Array | undefined): number | undefined {
  if (!(v instanceof Uint8Array)) return undefined;
  const t = decode(v);
  return num(t.get(1)) * 1000 + Math.floor(num(t.get(2)) / 1_000_000);
}

// ---- ttrpc: one unary call per connection ----

export class WireError extends Error {
  readonly code: number;

  constructor(code: number, message: string) {
    super(message);
    this.name = "WireError";
    this.code = code;
  }
}

/** Connects, or rejects with code UNAVAILABLE (14). */
export function dial(path: string, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ path });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new WireError(14, `dial ${path}: timed out`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(new WireError(14, `dial ${path}: ${err.message}`));
    });
  });
}

/** A unary ttrpc call on a connected socket (stream 1); the response payload. */
export function call(
  socket: net.Socket,
  service: string,
  method: string,
  payload: Uint8Array,
  timeoutMs: number,
  metadata: Record<string, string> = {},
): Promise<Uint8Array> {
  const request = encode([
    [1, "string", service],
    [2, "string", method],
    [3, "bytes", payload],
    [4, "varint", BigInt(timeoutMs) * 1_000_000n],
    ...Object.entries(metadata).map(([key, value]): Field => [
      5,
      "message",
      [
        [1, "string", key],
        [2, "string", value],
      ],
    ]),
  ]);
  const header = Buffer.alloc(10);
  header.writeUInt32BE(request.length, 0);
  header.writeUInt32BE(1, 4);
  header.writeUInt8(1, 8);
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(
      () => finish(new WireError(4, `${service}/${method}: deadline exceeded`)),
      timeoutMs,
    );
    const finish = (err?: Error, out?: Uint8Array): void => {
      clearTimeout(timer);
      socket.removeAllListeners("data");
      if (err) reject(err);
      else resolve(out ?? new Uint8Array());
    };
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 10) {
        const length = buffer.readUInt32BE(0);
        if (buffer.length < 10 + length) return;
        const type = buffer.readUInt8(8);
        const frame = buffer.subarray(10, 10 + length);
        buffer = buffer.subarray(10 + length);
        if (type !== 2) continue;
        const response = decode(frame);
        const status = response.get(1);
        if (status instanceof Uint8Array) {
          const s = decode(status);
          const code = num(s.get(1));
          if (code !== 0) {
            finish(new WireError(code, str(s.get(2))));
            return;
          }
        }
        const out = response.get(2);
        finish(undefined, out instanceof Uint8Array ? out : new Uint8Array());
        return;
      }
    });
    socket.once("close", () =>
      finish(new WireError(14, `${service}/${method}: connection closed`)),
    );
    socket.write(Buffer.concat([header, request]));
  });
}
