/**
 * gRPC's framing over HTTP/2 (the client side): length-prefixed messages, the
 * grpc-timeout header, and the status in trailers.
 */
import type { IncomingHttpHeaders } from "node:http2";
import { internal, resourceExhausted } from "@sandboxd/errdefs";
import { Code } from "./errors.js";

export interface WireStatus {
  code: number;
  message: string;
}

/** A message as gRPC sends it: flag 0 (not compressed), 4-byte big-endian length, bytes. */
export function frame(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = 0;
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
}

/**
 * Cuts a byte stream into gRPC messages (uncompressed only: neither side asks
 * for compression). A compressed message is INTERNAL, one over the limit
 * RESOURCE_EXHAUSTED, as in grpc-go.
 */
export class MessageReader {
  readonly #limit: number;
  /** Bytes received and not yet cut into messages (kept as chunks: no copy per chunk). */
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** The length of the message being read, once its 5-byte prefix is in. */
  #need: number | undefined;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** The messages completed by `chunk`. Throws on a compressed or oversized message. */
  push(chunk: Buffer): Uint8Array[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const out: Uint8Array[] = [];
    for (;;) {
      if (this.#need === undefined) {
        if (this.#buffered < 5) break;
        const prefix = this.#take(5);
        if (prefix[0] !== 0) {
          throw internal("compressed flag set without a grpc-encoding: cannot decompress");
        }
        const length = prefix.readUInt32BE(1);
        if (length > this.#limit) {
          throw resourceExhausted(`message of ${length} bytes is over the limit of ${this.#limit}`);
        }
        this.#need = length;
      }
      if (this.#buffered < this.#need) break;
      out.push(this.#take(this.#need));
      this.#need = undefined;
    }
    return out;
  }

  /** The first `n` buffered bytes (one copy, only when they span chunks). */
  #take(n: number): Buffer {
    const first = this.#chunks[0];
    let out: Buffer;
    if (first !== undefined && first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const c = this.#chunks[0]!;
        const k = Math.min(c.length, n - at);
        c.copy(out, at, 0, k);
        at += k;
        if (k === c.length) this.#chunks.shift();
        else this.#chunks[0] = c.subarray(k);
      }
    }
    this.#buffered -= n;
    return out;
  }
}

/** grpc-timeout: at most 8 digits and a unit. */
export function grpcTimeout(ms: number): string {
  const m = Math.max(0, Math.ceil(ms));
  if (m < 1e8) return `${m}m`;
  const s = Math.ceil(m / 1000);
  if (s < 1e8) return `${s}S`;
  return `${Math.min(Math.ceil(s / 3600), 99_999_999)}H`;
}

/** grpc-status and grpc-message (percent-encoded) from trailers. */
export function statusOf(headers: IncomingHttpHeaders): WireStatus {
  const raw = headers["grpc-status"];
  const code = Number(Array.isArray(raw) ? raw[0] : raw);
  const message = headers["grpc-message"];
  const text = Array.isArray(message) ? message.join(",") : (message ?? "");
  if (!Number.isInteger(code) || raw === undefined) {
    return { code: Code.Unknown, message: `reply without a valid grpc-status: ${String(raw)}` };
  }
  return { code, message: percentDecode(text) };
}

function percentDecode(text: string): string {
  if (!text.includes("%")) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
