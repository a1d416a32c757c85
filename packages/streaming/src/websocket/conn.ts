/**
 * RFC 6455 WebSocket framing for either end of an upgraded socket: client frames are masked,
 * server frames are not; fragmented messages are reassembled; pings are answered; a close frame
 * is answered and ends the socket. Messages arrive on "message", the end on "close".
 */
import { createHash, randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import { afterDrain } from "../http.js";

export const Opcode = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;
export const CloseCode = { Normal: 1000, ProtocolError: 1002, TooBig: 1009 } as const;
const guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export function acceptKey(key: string): string {
  return createHash("sha1")
    .update(key + guid)
    .digest("base64");
}

export function encodeFrame(opcode: number, payload: Buffer, mask: boolean, fin = true): Buffer {
  const len = payload.length;
  const lenBytes = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const head = Buffer.alloc(2 + lenBytes + (mask ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | opcode;
  head[1] = (mask ? 0x80 : 0) | (len < 126 ? len : len < 65536 ? 126 : 127);
  if (lenBytes === 2) head.writeUInt16BE(len, 2);
  else if (lenBytes === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!mask) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  key.copy(head, 2 + lenBytes);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i & 3]!;
  return Buffer.concat([head, body]);
}

export class WsConnection extends EventEmitter<{
  message: [data: Buffer, binary: boolean];
  close: [code: number];
}> {
  closed = false;
  private buf: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private fragmentOpcode = 0;
  private fragmentBytes = 0;
  private closeSent = false;
  private closeTimer: NodeJS.Timeout | null = null;
  private readonly socket: Duplex;
  private readonly server: boolean;
  private readonly maxMessageBytes: number;

  constructor(
    socket: Duplex,
    opts: { server: boolean; maxMessageBytes?: number; idleTimeoutMs?: number },
  ) {
    super();
    this.socket = socket;
    this.server = opts.server;
    this.maxMessageBytes = opts.maxMessageBytes ?? 32 * 1024 * 1024;
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => this.destroy(1006));
    socket.on("end", () => this.destroy(1006));
    socket.on("close", () => this.destroy(1006));
    if (opts.idleTimeoutMs && "setTimeout" in socket) {
      (socket as unknown as { setTimeout(ms: number, cb: () => void): void }).setTimeout(
        opts.idleTimeoutMs,
        () => this.destroy(1006),
      );
    }
  }

  send(data: Buffer, binary = true): void {
    if (this.closed || this.closeSent) return;
    this.socket.write(encodeFrame(binary ? Opcode.Binary : Opcode.Text, data, !this.server));
  }

  /** Calls back once the socket can take more (or the connection is gone). */
  afterDrain(cb: () => void): void {
    afterDrain(this.socket, this, this.closed, cb);
  }

  /** Starts the closing handshake; the socket ends when the peer answers or after `graceMs`. */
  close(code: number = CloseCode.Normal, graceMs = 5000): void {
    if (this.closed || this.closeSent) return;
    this.closeSent = true;
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    this.socket.write(encodeFrame(Opcode.Close, payload, !this.server));
    this.closeTimer = setTimeout(() => this.destroy(code), graceMs);
    this.closeTimer.unref();
  }

  /** Ends the connection now; `graceful` lets queued bytes (a close frame) leave first. */
  destroy(code = 1006, graceful = false): void {
    if (this.closed) return;
    this.closed = true;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.fragments = [];
    if (graceful) {
      this.socket.end();
      const timer = setTimeout(() => this.socket.destroy(), 5000);
      timer.unref();
      this.socket.once("close", () => clearTimeout(timer));
    } else {
      this.socket.destroy();
    }
    this.emit("close", code);
  }

  private fail(code: number): void {
    this.close(code);
    this.destroy(code, true);
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (!this.closed && this.buf.length >= 2) {
      const b0 = this.buf[0]!;
      const b1 = this.buf[1]!;
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      const masked = (b1 & 0x80) !== 0;
      let len = b1 & 0x7f;
      let at = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        const big = this.buf.readBigUInt64BE(2);
        if (big > BigInt(this.maxMessageBytes)) return this.fail(CloseCode.TooBig);
        len = Number(big);
        at = 10;
      }
      if ((b0 & 0x70) !== 0 || masked !== this.server) return this.fail(CloseCode.ProtocolError);
      if (len > this.maxMessageBytes) return this.fail(CloseCode.TooBig);
      const total = at + (masked ? 4 : 0) + len;
      if (this.buf.length < total) return;
      let payload = this.buf.subarray(at + (masked ? 4 : 0), total);
      if (masked) {
        const key = this.buf.subarray(at, at + 4);
        payload = Buffer.from(payload);
        for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
      }
      this.buf = this.buf.subarray(total);
      this.onFrame(fin, opcode, payload);
    }
  }

  private onFrame(fin: boolean, opcode: number, payload: Buffer): void {
    if (opcode >= 8) {
      if (!fin || payload.length > 125) return this.fail(CloseCode.ProtocolError);
      if (opcode === Opcode.Ping) {
        if (!this.closeSent) this.socket.write(encodeFrame(Opcode.Pong, payload, !this.server));
      } else if (opcode === Opcode.Close) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        if (!this.closeSent) this.close(code === 1005 ? CloseCode.Normal : code);
        this.destroy(code, true);
      } else if (opcode !== Opcode.Pong) {
        this.fail(CloseCode.ProtocolError);
      }
      return;
    }
    if (opcode === Opcode.Continuation) {
      if (this.fragmentOpcode === 0) return this.fail(CloseCode.ProtocolError);
    } else if (opcode === Opcode.Text || opcode === Opcode.Binary) {
      if (this.fragmentOpcode !== 0) return this.fail(CloseCode.ProtocolError);
      this.fragmentOpcode = opcode;
    } else {
      return this.fail(CloseCode.ProtocolError);
    }
    this.fragmentBytes += payload.length;
    if (this.fragmentBytes > this.maxMessageBytes) return this.fail(CloseCode.TooBig);
    this.fragments.push(payload);
    if (!fin) return;
    const message =
      this.fragments.length === 1 ? this.fragments[0]! : Buffer.concat(this.fragments);
    const binary = this.fragmentOpcode === Opcode.Binary;
    this.fragments = [];
    this.fragmentOpcode = 0;
    this.fragmentBytes = 0;
    this.emit("message", message, binary);
  }
}
