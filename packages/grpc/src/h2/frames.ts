/** HTTP/2 frames (RFC 9113 §4 and §6): the nine-byte header, writing and reading. */

export const FrameType = {
  Data: 0x0,
  Headers: 0x1,
  Priority: 0x2,
  RstStream: 0x3,
  Settings: 0x4,
  PushPromise: 0x5,
  Ping: 0x6,
  Goaway: 0x7,
  WindowUpdate: 0x8,
  Continuation: 0x9,
} as const;

export const Flag = { EndStream: 0x1, Ack: 0x1, EndHeaders: 0x4, Padded: 0x8, Priority: 0x20 };

export const Setting = {
  HeaderTableSize: 0x1,
  EnablePush: 0x2,
  MaxConcurrentStreams: 0x3,
  InitialWindowSize: 0x4,
  MaxFrameSize: 0x5,
  MaxHeaderListSize: 0x6,
} as const;

/** Error codes of RST_STREAM and GOAWAY. */
export const ErrorCode = {
  NoError: 0x0,
  ProtocolError: 0x1,
  InternalError: 0x2,
  FlowControlError: 0x3,
  StreamClosed: 0x5,
  FrameSizeError: 0x6,
  RefusedStream: 0x7,
  Cancel: 0x8,
  CompressionError: 0x9,
  EnhanceYourCalm: 0xb,
} as const;

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** The largest frame payload before either side raises SETTINGS_MAX_FRAME_SIZE. */
export const DEFAULT_MAX_FRAME = 16_384;

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

export function encodeFrame(
  type: number,
  flags: number,
  stream: number,
  payload?: Uint8Array,
): Buffer {
  const length = payload?.length ?? 0;
  const out = Buffer.allocUnsafe(9 + length);
  out.writeUIntBE(length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(stream & 0x7fffffff, 5);
  if (payload) out.set(payload, 9);
  return out;
}

export class FrameSizeError extends Error {}

/** Splits the byte stream from the server into frames. */
export class FrameReader {
  #buffer: Buffer = Buffer.alloc(0);
  /** The largest payload this side accepts (what it announced as SETTINGS_MAX_FRAME_SIZE). */
  readonly maxPayload: number;

  constructor(maxPayload = DEFAULT_MAX_FRAME) {
    this.maxPayload = maxPayload;
  }

  /** The frames completed by `chunk`; a partial frame stays buffered. */
  push(chunk: Buffer): Frame[] {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    const frames: Frame[] = [];
    let at = 0;
    while (this.#buffer.length - at >= 9) {
      const length = this.#buffer.readUIntBE(at, 3);
      if (length > this.maxPayload) {
        throw new FrameSizeError(
          `frame of ${length} bytes is over SETTINGS_MAX_FRAME_SIZE ${this.maxPayload}`,
        );
      }
      if (this.#buffer.length - at < 9 + length) break;
      frames.push({
        type: this.#buffer[at + 3]!,
        flags: this.#buffer[at + 4]!,
        stream: this.#buffer.readUInt32BE(at + 5) & 0x7fffffff,
        payload: this.#buffer.subarray(at + 9, at + 9 + length),
      });
      at += 9 + length;
    }
    this.#buffer = this.#buffer.subarray(at);
    return frames;
  }
}

/** A DATA or HEADERS payload without its padding (and, for HEADERS, without priority fields). */
export function unpad(frame: Frame): Buffer {
  let body = frame.payload;
  let pad = 0;
  if (frame.flags & Flag.Padded) {
    if (body.length < 1) throw new FrameSizeError("padded frame without a pad length");
    pad = body[0]!;
    body = body.subarray(1);
  }
  if (frame.type === FrameType.Headers && frame.flags & Flag.Priority) body = body.subarray(5);
  if (pad > body.length) throw new FrameSizeError("padding longer than the frame");
  return body.subarray(0, body.length - pad);
}
