/** One SPDY stream as a Duplex; its session does the framing. */
import { Duplex } from "node:stream";
import {
  RstStatus,
  defaultWindow,
  encodeData,
  encodeRstStream,
  encodeSynReply,
  encodeWindowUpdate,
  flagFin,
} from "./frames.js";
import type { SpdyHeaders } from "./headers.js";

const maxDataChunk = 32 * 1024;
/** Received bytes are acknowledged (WINDOW_UPDATE) in steps of half the initial window. */
export const ackThreshold = defaultWindow / 2;

/** What a stream needs from its session. */
export interface StreamHost {
  sendFrame(frame: Buffer): void;
  sendHeaderFrame(build: (headerBlock: Buffer) => Buffer, headers: SpdyHeaders): void;
  afterDrain(cb: () => void): void;
  forget(id: number): void;
}

export class SpdyStream extends Duplex {
  /** Headers of the SYN_REPLY, once the peer answered a stream this side opened. */
  replyHeaders: SpdyHeaders | null = null;
  private remoteClosed = false;
  private localClosed = false;
  private replied: boolean;
  private unacked = 0;
  /** The session ended: writes are dropped, what was received can still be read. */
  private gone = false;
  private readonly session: StreamHost;
  readonly id: number;
  readonly headers: SpdyHeaders;

  constructor(session: StreamHost, id: number, headers: SpdyHeaders, opts: { replied: boolean }) {
    super({ allowHalfOpen: true });
    this.session = session;
    this.id = id;
    this.headers = headers;
    this.replied = opts.replied;
  }

  /** Answers an incoming stream with SYN_REPLY (kubelet's server replies to every stream). */
  reply(headers: SpdyHeaders = {}): void {
    if (this.replied) return;
    this.replied = true;
    this.session.sendHeaderFrame((hb) => encodeSynReply(this.id, 0, hb), headers);
  }

  /** Ends the stream abruptly with RST_STREAM (CANCEL by default). */
  reset(status: number = RstStatus.Cancel): void {
    if (!this.remoteClosed || !this.localClosed)
      this.session.sendFrame(encodeRstStream(this.id, status));
    this.remoteClosed = this.localClosed = true;
    this.destroy();
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.gone) return cb();
    if (this.localClosed) return cb(new Error(`spdy stream ${this.id} is closed`));
    for (let at = 0; at < chunk.length; at += maxDataChunk) {
      this.session.sendFrame(encodeData(this.id, 0, chunk.subarray(at, at + maxDataChunk)));
    }
    this.session.afterDrain(cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.localClosed) {
      this.localClosed = true;
      this.session.sendFrame(encodeData(this.id, flagFin, Buffer.alloc(0)));
    }
    this.maybeDone();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.remoteClosed || !this.localClosed) {
      this.remoteClosed = this.localClosed = true;
      this.session.sendFrame(encodeRstStream(this.id, RstStatus.Cancel));
    }
    this.session.forget(this.id);
    cb(err);
  }

  /** @internal */
  onData(data: Buffer, fin: boolean): void {
    if (this.remoteClosed) return;
    if (data.length > 0) {
      this.push(data);
      this.unacked += data.length;
      if (this.unacked >= ackThreshold && !fin) {
        this.session.sendFrame(encodeWindowUpdate(this.id, this.unacked));
        this.unacked = 0;
      }
    }
    if (fin) this.onRemoteFin();
  }

  /** @internal */
  onRemoteFin(): void {
    if (this.remoteClosed) return;
    this.remoteClosed = true;
    this.push(null);
    this.maybeDone();
  }

  /** @internal */
  onUnidirectional(): void {
    this.localClosed = true;
  }

  /**
   * @internal The session ended under the stream. A stream someone reads (flowing, or holding
   * unread data such as a status) ends after its data; the rest are destroyed at once.
   */
  onSessionGone(): void {
    if (this.destroyed) return;
    this.gone = true;
    if (this.readableFlowing !== true && this.readableLength === 0) return this.onReset();
    if (!this.remoteClosed) {
      this.remoteClosed = true;
      this.push(null);
    }
    this.localClosed = true;
    if (!this.writableEnded) this.end();
  }

  /** @internal */
  onReset(): void {
    this.remoteClosed = this.localClosed = true;
    this.push(null);
    this.destroy();
  }

  /** @internal */
  onReply(headers: SpdyHeaders): void {
    this.replyHeaders = headers;
    this.emit("reply", headers);
  }

  private maybeDone(): void {
    if (this.remoteClosed && this.localClosed) this.session.forget(this.id);
  }
}
