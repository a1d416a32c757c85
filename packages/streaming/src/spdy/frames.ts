/**
 * SPDY/3.1 framing (draft 3.1, section 2.2): control frames carry a version (3), a type, flags
 * and a 24-bit length; data frames a 31-bit stream id, flags and a 24-bit length. Header blocks
 * are kept compressed here; headers.ts owns their zlib stream.
 */
import { invalidArgument } from "@sandboxd/errdefs";

export const version = 3;
export const flagFin = 0x01;
export const flagUnidirectional = 0x02;
/** The largest payload one frame carries (24-bit length). */
const maxFrameLength = 0xffffff;

const FrameType = {
  SynStream: 1,
  SynReply: 2,
  RstStream: 3,
  Settings: 4,
  Ping: 6,
  GoAway: 7,
  Headers: 8,
  WindowUpdate: 9,
} as const;

/** RST_STREAM status codes (draft 3.1, section 2.6.3). */
export const RstStatus = {
  ProtocolError: 1,
  InvalidStream: 2,
  RefusedStream: 3,
  UnsupportedVersion: 4,
  Cancel: 5,
  InternalError: 6,
  FlowControlError: 7,
  StreamInUse: 8,
  StreamAlreadyClosed: 9,
  FrameTooLarge: 11,
} as const;

export const GoAwayStatus = { Ok: 0, ProtocolError: 1, InternalError: 2 } as const;
/** The initial per-stream and per-session flow-control window (64 KiB). */
export const defaultWindow = 65536;

export type Frame =
  | { kind: "data"; streamId: number; flags: number; data: Buffer }
  | {
      kind: "syn_stream";
      streamId: number;
      associatedId: number;
      priority: number;
      flags: number;
      headerBlock: Buffer;
    }
  | { kind: "syn_reply"; streamId: number; flags: number; headerBlock: Buffer }
  | { kind: "headers"; streamId: number; flags: number; headerBlock: Buffer }
  | { kind: "rst_stream"; streamId: number; status: number }
  | { kind: "settings"; flags: number; entries: { flags: number; id: number; value: number }[] }
  | { kind: "ping"; id: number }
  | { kind: "goaway"; lastGoodStreamId: number; status: number }
  | { kind: "window_update"; streamId: number; delta: number }
  | { kind: "unknown"; type: number };

function control(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > maxFrameLength) throw invalidArgument("spdy control frame too large");
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8000 | version, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(((flags & 0xff) << 24) | payload.length, 4);
  return Buffer.concat([head, payload]);
}

function u32s(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}

export function encodeData(streamId: number, flags: number, data: Uint8Array): Buffer {
  if (data.length > maxFrameLength) throw invalidArgument("spdy data frame too large");
  const head = Buffer.alloc(8);
  head.writeUInt32BE(streamId & 0x7fffffff, 0);
  head.writeUInt32BE(((flags & 0xff) << 24) | data.length, 4);
  return Buffer.concat([head, data]);
}

export function encodeSynStream(
  streamId: number,
  associatedId: number,
  priority: number,
  flags: number,
  headerBlock: Buffer,
): Buffer {
  const p = Buffer.alloc(10);
  p.writeUInt32BE(streamId & 0x7fffffff, 0);
  p.writeUInt32BE(associatedId & 0x7fffffff, 4);
  p.writeUInt8((priority & 0x7) << 5, 8);
  return control(FrameType.SynStream, flags, Buffer.concat([p, headerBlock]));
}

export function encodeSynReply(streamId: number, flags: number, headerBlock: Buffer): Buffer {
  return control(FrameType.SynReply, flags, Buffer.concat([u32s(streamId), headerBlock]));
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  return control(FrameType.RstStream, 0, u32s(streamId, status));
}

export function encodeSettings(entries: { flags?: number; id: number; value: number }[]): Buffer {
  const b = Buffer.alloc(4 + entries.length * 8);
  b.writeUInt32BE(entries.length, 0);
  entries.forEach((e, i) => {
    b.writeUInt32BE((((e.flags ?? 0) & 0xff) << 24) | (e.id & 0xffffff), 4 + i * 8);
    b.writeUInt32BE(e.value >>> 0, 8 + i * 8);
  });
  return control(FrameType.Settings, 0, b);
}

export function encodePing(id: number): Buffer {
  return control(FrameType.Ping, 0, u32s(id));
}

export function encodeGoAway(lastGoodStreamId: number, status: number): Buffer {
  return control(FrameType.GoAway, 0, u32s(lastGoodStreamId, status));
}

export function encodeWindowUpdate(streamId: number, delta: number): Buffer {
  return control(FrameType.WindowUpdate, 0, u32s(streamId, delta & 0x7fffffff));
}

/** A protocol violation by the peer: the session answers with GOAWAY(PROTOCOL_ERROR). */
export class SpdyProtocolError extends Error {}

function need(payload: Buffer, n: number, what: string): void {
  if (payload.length < n) throw new SpdyProtocolError(`spdy ${what} frame too short`);
}

function decodeControl(type: number, flags: number, p: Buffer): Frame {
  switch (type) {
    case FrameType.SynStream:
      need(p, 10, "SYN_STREAM");
      return {
        kind: "syn_stream",
        streamId: p.readUInt32BE(0) & 0x7fffffff,
        associatedId: p.readUInt32BE(4) & 0x7fffffff,
        priority: p.readUInt8(8) >> 5,
        flags,
        headerBlock: p.subarray(10),
      };
    case FrameType.SynReply:
    case FrameType.Headers:
      need(p, 4, type === FrameType.SynReply ? "SYN_REPLY" : "HEADERS");
      return {
        kind: type === FrameType.SynReply ? "syn_reply" : "headers",
        streamId: p.readUInt32BE(0) & 0x7fffffff,
        flags,
        headerBlock: p.subarray(4),
      };
    case FrameType.RstStream:
      need(p, 8, "RST_STREAM");
      return {
        kind: "rst_stream",
        streamId: p.readUInt32BE(0) & 0x7fffffff,
        status: p.readUInt32BE(4),
      };
    case FrameType.Settings: {
      need(p, 4, "SETTINGS");
      const n = p.readUInt32BE(0);
      need(p, 4 + n * 8, "SETTINGS");
      const entries = [];
      for (let i = 0; i < n; i++) {
        const word = p.readUInt32BE(4 + i * 8);
        entries.push({ flags: word >>> 24, id: word & 0xffffff, value: p.readUInt32BE(8 + i * 8) });
      }
      return { kind: "settings", flags, entries };
    }
    case FrameType.Ping:
      need(p, 4, "PING");
      return { kind: "ping", id: p.readUInt32BE(0) };
    case FrameType.GoAway:
      need(p, 4, "GOAWAY");
      return {
        kind: "goaway",
        lastGoodStreamId: p.readUInt32BE(0) & 0x7fffffff,
        status: p.length >= 8 ? p.readUInt32BE(4) : 0,
      };
    case FrameType.WindowUpdate:
      need(p, 8, "WINDOW_UPDATE");
      return {
        kind: "window_update",
        streamId: p.readUInt32BE(0) & 0x7fffffff,
        delta: p.readUInt32BE(4) & 0x7fffffff,
      };
    default:
      // Unknown control frames are ignored (draft 3.1, section 2.2.1).
      return { kind: "unknown", type };
  }
}

/** Incremental frame reader: feed it socket bytes, take whole frames out. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const frames: Frame[] = [];
    while (this.buf.length >= 8) {
      const length = this.buf.readUInt32BE(4) & 0xffffff;
      if (this.buf.length < 8 + length) break;
      const first = this.buf.readUInt32BE(0);
      const flags = this.buf.readUInt8(4);
      const payload = this.buf.subarray(8, 8 + length);
      this.buf = this.buf.subarray(8 + length);
      if (first & 0x80000000) {
        const v = (first >>> 16) & 0x7fff;
        if (v !== version) throw new SpdyProtocolError(`unsupported spdy version ${v}`);
        frames.push(decodeControl(first & 0xffff, flags, payload));
      } else {
        frames.push({ kind: "data", streamId: first & 0x7fffffff, flags, data: payload });
      }
    }
    return frames;
  }
}
