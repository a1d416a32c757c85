/**
 * The ttrpc frame: a 10-byte big-endian header (payload length excluding the header,
 * stream id, message type, flags) followed by the payload. See PROTOCOL.md.
 */
import { Code } from "./code.js";
import { TtrpcError } from "./errors.js";

export const HEADER_LENGTH = 10;

/** Largest payload a frame may carry, inclusive (Go's `messageLengthMax`, 4 MiB). */
export const MAX_PAYLOAD_LENGTH = 4 << 20;

export const MessageType = {
  Request: 0x1,
  Response: 0x2,
  Data: 0x3,
} as const;

export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Flag bits. Their meaning depends on the message type (PROTOCOL.md, "Flags"). */
export const Flag = {
  /** Request, Data: the sender will send no more data on this stream. */
  RemoteClosed: 0x1,
  /** Request: the stream is not unary; the sender keeps sending Data frames. */
  RemoteOpen: 0x2,
  /** Data: the frame carries no message (used with RemoteClosed to end a stream). */
  NoData: 0x4,
} as const;

export interface FrameHeader {
  readonly length: number;
  readonly streamId: number;
  /** A {@link MessageType}, or any other byte a peer sent. */
  readonly type: number;
  readonly flags: number;
}

export interface Frame extends FrameHeader {
  readonly payload: Uint8Array;
}

/** What the parser yields: a whole frame, or the header of one too large to accept. */
export type ParsedFrame =
  | { readonly kind: "frame"; readonly frame: Frame }
  | { readonly kind: "oversize"; readonly header: FrameHeader };

/** The status Go's ttrpc uses to refuse a payload over {@link MAX_PAYLOAD_LENGTH}. */
export function oversizeError(length: number): TtrpcError {
  return new TtrpcError(
    Code.ResourceExhausted,
    `message length ${length} exceed maximum message size of ${MAX_PAYLOAD_LENGTH}`,
  );
}

/** Encodes the 10-byte header into `target` at `offset`. */
export function writeHeader(
  target: Buffer,
  offset: number,
  length: number,
  streamId: number,
  type: number,
  flags: number,
): void {
  target.writeUInt32BE(length, offset);
  target.writeUInt32BE(streamId, offset + 4);
  target[offset + 8] = type;
  target[offset + 9] = flags;
}

/** Encodes one whole frame. Throws RESOURCE_EXHAUSTED for a payload over the limit. */
export function encodeFrame(
  streamId: number,
  type: number,
  flags: number,
  payload: Uint8Array = new Uint8Array(0),
): Buffer {
  if (payload.length > MAX_PAYLOAD_LENGTH) throw oversizeError(payload.length);
  const out = Buffer.allocUnsafe(HEADER_LENGTH + payload.length);
  writeHeader(out, 0, payload.length, streamId, type, flags);
  out.set(payload, HEADER_LENGTH);
  return out;
}

/**
 * An incremental frame parser. Bytes go in with {@link push} in chunks of any size;
 * whole frames come out of {@link next}, one at a time, so the caller decides when to
 * stop pulling (that is what lets a connection apply backpressure). Payloads that fit
 * in one chunk are returned without copying. The payload of an oversize frame is never
 * buffered: it is skipped as it arrives, and the header is reported once.
 */
export class FrameParser {
  #chunks: Buffer[] = [];
  #offset = 0; // read position in #chunks[0]
  #buffered = 0; // unread bytes across #chunks
  #header: FrameHeader | undefined; // header of the frame whose payload is awaited
  #discard = 0; // bytes of an oversize payload still to skip
  readonly #scratch = Buffer.alloc(HEADER_LENGTH);

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(
      Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length),
    );
    this.#buffered += chunk.length;
  }

  /** The next complete frame or oversize header, or undefined until more bytes arrive. */
  next(): ParsedFrame | undefined {
    if (this.#discard > 0) {
      const n = Math.min(this.#discard, this.#buffered);
      this.#skip(n);
      this.#discard -= n;
      if (this.#discard > 0) return undefined;
    }
    if (this.#header === undefined) {
      if (this.#buffered < HEADER_LENGTH) return undefined;
      const h = this.#read(HEADER_LENGTH, true);
      const header: FrameHeader = {
        length: h.readUInt32BE(0),
        streamId: h.readUInt32BE(4),
        type: h[8]!,
        flags: h[9]!,
      };
      if (header.length > MAX_PAYLOAD_LENGTH) {
        this.#discard = header.length;
        return { kind: "oversize", header };
      }
      this.#header = header;
    }
    const header = this.#header;
    if (this.#buffered < header.length) return undefined;
    this.#header = undefined;
    const payload = header.length === 0 ? new Uint8Array(0) : this.#read(header.length, false);
    return { kind: "frame", frame: { ...header, payload } };
  }

  /** Whether the bytes seen so far end inside a frame (an EOF now would truncate it). */
  get partial(): boolean {
    return this.#buffered > 0 || this.#header !== undefined || this.#discard > 0;
  }

  #read(n: number, scratch: boolean): Buffer {
    const first = this.#chunks[0]!;
    if (first.length - this.#offset >= n) {
      const out = first.subarray(this.#offset, this.#offset + n);
      this.#advance(n);
      return out;
    }
    const out = scratch ? this.#scratch : Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0]!;
      const take = Math.min(n - filled, chunk.length - this.#offset);
      chunk.copy(out, filled, this.#offset, this.#offset + take);
      filled += take;
      this.#advance(take);
    }
    return out;
  }

  #skip(n: number): void {
    while (n > 0) {
      const chunk = this.#chunks[0]!;
      const take = Math.min(n, chunk.length - this.#offset);
      this.#advance(take);
      n -= take;
    }
  }

  #advance(n: number): void {
    this.#offset += n;
    this.#buffered -= n;
    if (this.#offset === this.#chunks[0]!.length) {
      this.#chunks.shift();
      this.#offset = 0;
    }
  }
}
