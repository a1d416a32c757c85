/**
 * One SPDY/3.1 session over an upgraded socket, for either end: incoming SYN_STREAMs become
 * `SpdyStream`s (Duplexes) announced on "stream"; `openStream` starts one from this side.
 * Frames leave in the order they were queued, header blocks included (their compression is
 * asynchronous). Received data is acknowledged with WINDOW_UPDATEs per stream and per session
 * (SPDY/3.1); outgoing data is paced by the socket's own backpressure, not by the peer's window:
 * Go's spdystream, which kubelet's clients use, never sends WINDOW_UPDATE.
 */
import { EventEmitter } from "node:events";
import type { Duplex as DuplexSocket } from "node:stream";
import {
  FrameReader,
  GoAwayStatus,
  RstStatus,
  SpdyProtocolError,
  encodeGoAway,
  encodePing,
  encodeRstStream,
  encodeSynStream,
  encodeWindowUpdate,
  flagFin,
  flagUnidirectional,
  type Frame,
} from "./frames.js";
import { HeaderCodec, type SpdyHeaders } from "./headers.js";
import { SpdyStream, ackThreshold, type StreamHost } from "./stream.js";
import { afterDrain } from "../http.js";

export { SpdyStream };

/** Open streams a peer may hold in one session; more are refused (RST_STREAM REFUSED_STREAM). */
const maxStreams = 1000;

export interface SessionOptions {
  /** The server opens even-numbered streams and answers odd PING ids; a client the opposite. */
  server: boolean;
  /** Destroys the session after this long without traffic (0: never). */
  idleTimeoutMs?: number;
}

export class SpdySession
  extends EventEmitter<{
    stream: [SpdyStream];
    goaway: [];
    close: [];
  }>
  implements StreamHost
{
  private readonly reader = new FrameReader();
  private readonly codec = new HeaderCodec();
  private readonly streams = new Map<number, SpdyStream>();
  private readonly out: (Buffer | Promise<Buffer>)[] = [];
  private pumping = false;
  private pumpDone: Promise<void> = Promise.resolve();
  private inbound: Promise<void> = Promise.resolve();
  private nextId: number;
  private lastRemoteId = 0;
  private sessionUnacked = 0;
  private goingAway = false;
  private closeTimer: NodeJS.Timeout | null = null;
  closed = false;
  private readonly socket: DuplexSocket;
  private readonly opts: SessionOptions;

  constructor(socket: DuplexSocket, opts: SessionOptions) {
    super();
    this.socket = socket;
    this.opts = opts;
    this.nextId = opts.server ? 2 : 1;
    socket.on("data", (chunk: Buffer) => this.onSocketData(chunk));
    // Frames already read are handled before a clean end tears the session down.
    const afterInbound = (): void => {
      this.inbound = this.inbound.then(() => this.destroy());
    };
    socket.on("error", () => this.destroy());
    socket.on("end", afterInbound);
    socket.on("close", afterInbound);
    if (opts.idleTimeoutMs && "setTimeout" in socket) {
      (socket as unknown as { setTimeout(ms: number, cb: () => void): void }).setTimeout(
        opts.idleTimeoutMs,
        () => this.destroy(),
      );
    }
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Opens a stream from this side; resolves once the peer answered with SYN_REPLY. */
  openStream(headers: SpdyHeaders, opts: { fin?: boolean } = {}): Promise<SpdyStream> {
    if (this.closed || this.goingAway) return Promise.reject(new Error("spdy session is closed"));
    const id = this.nextId;
    this.nextId += 2;
    const stream = new SpdyStream(this, id, headers, { replied: true });
    this.streams.set(id, stream);
    this.sendHeaderFrame((hb) => encodeSynStream(id, 0, 0, opts.fin ? flagFin : 0, hb), headers);
    if (opts.fin) stream.onUnidirectional();
    return new Promise((resolve, reject) => {
      const onClose = (): void => reject(new Error(`spdy stream ${id} closed before its reply`));
      stream.once("close", onClose);
      stream.once("reply", () => {
        stream.off("close", onClose);
        resolve(stream);
      });
    });
  }

  ping(id: number): void {
    this.sendFrame(encodePing(id));
  }

  /** @internal */
  sendFrame(frame: Buffer): void {
    if (this.closed) return;
    if (!this.pumping && this.out.length === 0) {
      this.socket.write(frame);
      return;
    }
    this.out.push(frame);
  }

  /** @internal Queues a frame whose header block must be compressed first, keeping its place. */
  sendHeaderFrame(build: (headerBlock: Buffer) => Buffer, headers: SpdyHeaders): void {
    if (this.closed) return;
    this.out.push(this.codec.compress(headers).then(build));
    if (!this.pumping) void this.pump();
  }

  /** @internal Calls back once the socket can take more (or the session is gone). */
  afterDrain(cb: () => void): void {
    afterDrain(this.socket, this, this.closed, cb);
  }

  /** @internal */
  forget(id: number): void {
    this.streams.delete(id);
    if (this.goingAway && this.streams.size === 0) this.destroy();
  }

  /**
   * Ends every stream from this side (FIN after its queued data), says GOAWAY, ends the socket
   * and resolves once the peer closed it too, or `graceMs` passed.
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.closed) return;
    await Promise.all(
      [...this.streams.values()].map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.writableFinished || s.destroyed) return resolve();
            s.once("finish", () => resolve());
            s.once("close", () => resolve());
            s.end();
          }),
      ),
    );
    if (this.closed) return;
    this.sendFrame(encodeGoAway(this.lastRemoteId, GoAwayStatus.Ok));
    await this.drained();
    if (this.closed) return;
    // Resolve only once the peer hung up (or the grace ran out): destroying the socket earlier
    // would drop output still queued in it.
    const gone = new Promise<void>((resolve) => this.once("close", resolve));
    this.socket.end();
    this.closeTimer = setTimeout(() => this.destroy(), graceMs);
    this.closeTimer.unref();
    await gone;
  }

  /** Tears everything down at once: streams, the socket, the zlib streams. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.out.length = 0;
    for (const s of [...this.streams.values()]) s.onSessionGone();
    this.streams.clear();
    this.codec.close();
    this.socket.destroy();
    this.emit("close");
  }

  private async drained(): Promise<void> {
    const gone = new Promise<void>((resolve) => this.once("close", resolve));
    while (this.pumping && !this.closed) await Promise.race([this.pumpDone, gone]);
  }

  private pump(): Promise<void> {
    this.pumpDone = this.runPump();
    return this.pumpDone;
  }

  private async runPump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.out.length > 0 && !this.closed) {
        const frame = await this.out.shift()!;
        if (!this.closed) this.socket.write(frame);
      }
    } catch {
      this.destroy();
    } finally {
      this.pumping = false;
    }
  }

  private onSocketData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch {
      return this.protocolError();
    }
    for (const frame of frames) {
      this.inbound = this.inbound.then(() =>
        this.handle(frame).catch((err: unknown) => {
          if (err instanceof SpdyProtocolError) this.protocolError();
          else this.destroy();
        }),
      );
    }
  }

  private protocolError(): void {
    if (this.closed) return;
    this.sendFrame(encodeGoAway(this.lastRemoteId, GoAwayStatus.ProtocolError));
    this.socket.end();
    this.destroy();
  }

  private async handle(frame: Frame): Promise<void> {
    if (this.closed) return;
    switch (frame.kind) {
      case "data": {
        this.sessionUnacked += frame.data.length;
        if (this.sessionUnacked >= ackThreshold) {
          this.sendFrame(encodeWindowUpdate(0, this.sessionUnacked));
          this.sessionUnacked = 0;
        }
        const stream = this.streams.get(frame.streamId);
        if (!stream) {
          if (frame.streamId > 0)
            this.sendFrame(encodeRstStream(frame.streamId, RstStatus.InvalidStream));
          return;
        }
        stream.onData(frame.data, (frame.flags & flagFin) !== 0);
        return;
      }
      case "syn_stream": {
        const headers = await this.codec.decompress(frame.headerBlock);
        const remoteParity = this.opts.server ? 1 : 0;
        if (frame.streamId === 0 || frame.streamId % 2 !== remoteParity)
          throw new SpdyProtocolError("bad stream id");
        if (this.streams.has(frame.streamId)) {
          this.sendFrame(encodeRstStream(frame.streamId, RstStatus.StreamInUse));
          return;
        }
        if (this.goingAway || this.streams.size >= maxStreams) {
          this.sendFrame(encodeRstStream(frame.streamId, RstStatus.RefusedStream));
          return;
        }
        this.lastRemoteId = Math.max(this.lastRemoteId, frame.streamId);
        const stream = new SpdyStream(this, frame.streamId, headers, { replied: false });
        this.streams.set(frame.streamId, stream);
        if (frame.flags & flagUnidirectional) stream.onUnidirectional();
        if (frame.flags & flagFin) stream.onRemoteFin();
        this.emit("stream", stream);
        return;
      }
      case "syn_reply":
      case "headers": {
        const headers = await this.codec.decompress(frame.headerBlock);
        const stream = this.streams.get(frame.streamId);
        if (!stream) return;
        if (frame.kind === "syn_reply") stream.onReply(headers);
        if (frame.flags & flagFin) stream.onRemoteFin();
        return;
      }
      case "rst_stream":
        this.streams.get(frame.streamId)?.onReset();
        return;
      case "ping":
        // Echo the peer's pings; ours (our parity) coming back are answers.
        if (frame.id % 2 === (this.opts.server ? 1 : 0)) this.sendFrame(encodePing(frame.id));
        return;
      case "goaway":
        this.goingAway = true;
        this.emit("goaway");
        if (this.streams.size === 0) this.destroy();
        return;
      case "settings":
      case "window_update":
      case "unknown":
        return;
    }
  }
}
