/**
 * One HTTP/2 client connection on a plain node:net socket: what a gRPC client
 * needs and nothing more (no push, no priorities, no server-initiated streams).
 * node:http2 costs an `sbx` call about 120 M instructions to load and set up
 * before its first byte (docs/benchmarks-startup.md); this is a few hundred
 * lines of JavaScript that the compile cache covers.
 *
 * Flow control runs both ways: sends wait for the peer's connection and stream
 * windows, and receive windows are opened again as data arrives (the caller
 * keeps what it reads, as with node:http2's 'data' events).
 */
import { connect, type Socket } from "node:net";
import {
  DEFAULT_MAX_FRAME,
  ErrorCode,
  Flag,
  FrameReader,
  FrameType,
  PREFACE,
  Setting,
  encodeFrame,
  unpad,
  type Frame,
} from "./frames.js";
import { HpackDecoder, encodeHeaders } from "./hpack.js";
import {
  CONNECTION_WINDOW,
  DEFAULT_WINDOW,
  H2Stream,
  STREAM_WINDOW,
  type Headers,
  type StreamEvents,
} from "./stream.js";

export type { H2Stream, Headers, StreamEvents };

export class H2Session {
  readonly #socket: Socket;
  readonly #reader = new FrameReader(DEFAULT_MAX_FRAME);
  readonly #decoder = new HpackDecoder();
  readonly #streams = new Map<number, H2Stream>();
  readonly #onGone: () => void;
  readonly #onClosed: () => void;
  #nextId = 1;
  #sendWindow = DEFAULT_WINDOW;
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxFrame = DEFAULT_MAX_FRAME;
  #recvConsumed = 0;
  /** A header block split over CONTINUATION frames, until END_HEADERS. */
  #block: { stream: number; parts: Buffer[]; end: boolean } | undefined;
  /** No new streams: after GOAWAY, an error or close(). */
  #draining = false;
  #destroyed = false;

  /**
   * Connects to the unix socket at `path`; `onGone` runs once when it takes no
   * more streams, `onClosed` once when the socket is gone.
   */
  constructor(path: string, onGone: () => void, onClosed: () => void) {
    this.#onGone = onGone;
    this.#onClosed = onClosed;
    this.#socket = connect(path);
    this.#socket.setNoDelay?.(true);
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(Setting.EnablePush, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(Setting.InitialWindowSize, 6);
    settings.writeUInt32BE(STREAM_WINDOW, 8);
    const increment = Buffer.alloc(4);
    increment.writeUInt32BE(CONNECTION_WINDOW - DEFAULT_WINDOW);
    this.#socket.write(
      Buffer.concat([
        PREFACE,
        encodeFrame(FrameType.Settings, 0, 0, settings),
        encodeFrame(FrameType.WindowUpdate, 0, 0, increment),
      ]),
    );
    this.#socket.on("data", (chunk: Buffer) => {
      try {
        for (const frame of this.#reader.push(chunk)) this.#frame(frame);
      } catch (err) {
        this.#fail(
          `protocol error: ${err instanceof Error ? err.message : String(err)}`,
          ErrorCode.ProtocolError,
        );
      }
    });
    this.#socket.on("error", (err) => this.#fail(err.message));
    this.#socket.on("close", () => {
      this.#fail("the connection closed");
      this.#onClosed();
    });
    this.#socket.unref();
  }

  /** Whether this session takes new streams. */
  get usable(): boolean {
    return !this.#draining && !this.#destroyed && this.#nextId < 0x7fffffff;
  }

  /**
   * Opens a stream: sends its request headers; the body follows with write(), or is `body`
   * (the whole of it: the stream's side ends there), sent with the headers in one write, so
   * that the server is woken once for the request, not once for its headers and again for
   * its body.
   */
  open(fields: Iterable<readonly [string, string]>, events: StreamEvents, body?: Buffer): H2Stream {
    const stream = new H2Stream(this, this.#nextId, events, this.#peerInitialWindow);
    this.#nextId += 2;
    this.#streams.set(stream.id, stream);
    const block = encodeHeaders(fields);
    // One HEADERS frame and as many CONTINUATIONs as the peer's frame size needs.
    const frames: Buffer[] = [];
    for (let at = 0; at === 0 || at < block.length; at += this.#peerMaxFrame) {
      const part = block.subarray(at, at + this.#peerMaxFrame);
      const last = at + this.#peerMaxFrame >= block.length;
      const type = at === 0 ? FrameType.Headers : FrameType.Continuation;
      frames.push(encodeFrame(type, last ? Flag.EndHeaders : 0, stream.id, part));
    }
    if (body) {
      if (body.length) stream.pending.push(body);
      stream.endPending = true;
      frames.push(...this.#dataFrames());
    }
    this.#socket.write(Buffer.concat(frames));
    return stream;
  }

  ref(): void {
    this.#socket.ref();
  }

  unref(): void {
    this.#socket.unref();
  }

  /** Ends the connection; open streams fail. */
  destroy(reason = "the channel is closed"): void {
    this.#fail(reason);
    this.#socket.destroy();
  }

  /** Sends what the windows allow, stream by stream. */
  flush(): void {
    const out = this.#dataFrames();
    if (out.length && !this.#destroyed)
      this.#socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  /** The DATA frames the windows allow now, stream by stream (taken off their queues). */
  #dataFrames(): Buffer[] {
    const out: Buffer[] = [];
    for (const stream of this.#streams.values()) {
      while (stream.pending.length > 0 && this.#sendWindow > 0 && stream.sendWindow > 0) {
        const head = stream.pending[0]!;
        const n = Math.min(head.length, this.#sendWindow, stream.sendWindow, this.#peerMaxFrame);
        const last = n === head.length && stream.pending.length === 1 && stream.endPending;
        out.push(
          encodeFrame(FrameType.Data, last ? Flag.EndStream : 0, stream.id, head.subarray(0, n)),
        );
        this.#sendWindow -= n;
        stream.sendWindow -= n;
        if (n === head.length) stream.pending.shift();
        else stream.pending[0] = head.subarray(n);
        if (last) this.#localEnd(stream);
      }
      if (stream.pending.length === 0 && stream.endPending && !stream.localEnded) {
        out.push(encodeFrame(FrameType.Data, Flag.EndStream, stream.id));
        this.#localEnd(stream);
      }
      if (stream.pending.length === 0) stream.notifyDrained();
    }
    return out;
  }

  /** Resets a stream this side gives up on. */
  reset(stream: H2Stream, code: number): void {
    if (!this.#streams.has(stream.id)) return;
    this.#forget(stream);
    if (this.#destroyed) return;
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(code);
    this.#socket.write(encodeFrame(FrameType.RstStream, 0, stream.id, payload));
  }

  #localEnd(stream: H2Stream): void {
    stream.localEnded = true;
    if (stream.remoteEnded) this.#forget(stream);
  }

  #forget(stream: H2Stream): void {
    stream.notifyDrained();
    this.#streams.delete(stream.id);
    if (this.#draining && this.#streams.size === 0) this.#close();
  }

  #frame(frame: Frame): void {
    if (this.#block && frame.type !== FrameType.Continuation) {
      throw new Error("header block interrupted by another frame");
    }
    switch (frame.type) {
      case FrameType.Data:
        return this.#data(frame);
      case FrameType.Headers:
        this.#block = {
          stream: frame.stream,
          parts: [unpad(frame)],
          end: (frame.flags & Flag.EndStream) !== 0,
        };
        if (frame.flags & Flag.EndHeaders) this.#headers();
        return;
      case FrameType.Continuation:
        if (!this.#block || this.#block.stream !== frame.stream)
          throw new Error("unexpected CONTINUATION");
        this.#block.parts.push(frame.payload);
        if (frame.flags & Flag.EndHeaders) this.#headers();
        return;
      case FrameType.RstStream: {
        const stream = this.#streams.get(frame.stream);
        if (!stream || frame.payload.length !== 4) return;
        this.#streams.delete(stream.id);
        const code = frame.payload.readUInt32BE(0);
        stream.events.failed(`the server reset the stream (HTTP/2 error code ${code})`, code);
        if (this.#draining && this.#streams.size === 0) this.#close();
        return;
      }
      case FrameType.Settings:
        return this.#settings(frame);
      case FrameType.Ping:
        if (!(frame.flags & Flag.Ack))
          this.#socket.write(encodeFrame(FrameType.Ping, Flag.Ack, 0, frame.payload));
        return;
      case FrameType.Goaway:
        return this.#goaway(frame);
      case FrameType.WindowUpdate:
        return this.#windowUpdate(frame);
      case FrameType.PushPromise:
        throw new Error("PUSH_PROMISE although push is disabled");
      default:
        return; // PRIORITY and unknown types are ignored (RFC 9113 §4.1)
    }
  }

  #data(frame: Frame): void {
    const size = frame.payload.length;
    this.#recvConsumed += size;
    if (this.#recvConsumed >= CONNECTION_WINDOW / 2) {
      this.#windowUpdateOut(0, this.#recvConsumed);
      this.#recvConsumed = 0;
    }
    const stream = this.#streams.get(frame.stream);
    if (!stream) return; // a stream this side cancelled: its data still counted above
    stream.recvWindow -= size;
    if (stream.recvWindow < 0) {
      this.reset(stream, ErrorCode.FlowControlError);
      stream.events.failed("the server overran the stream's flow-control window", undefined);
      return;
    }
    stream.recvConsumed += size;
    const end = (frame.flags & Flag.EndStream) !== 0;
    if (!end && stream.recvConsumed >= STREAM_WINDOW / 2) {
      this.#windowUpdateOut(stream.id, stream.recvConsumed);
      stream.recvWindow += stream.recvConsumed;
      stream.recvConsumed = 0;
    }
    const body = unpad(frame);
    if (body.length) stream.events.data(body);
    if (end) this.#remoteEnd(stream, () => stream.events.end());
  }

  #headers(): void {
    const block = this.#block!;
    this.#block = undefined;
    // Decoded even for a stream this side no longer tracks: the table must stay in step.
    const fields = this.#decoder.decode(
      block.parts.length === 1 ? block.parts[0]! : Buffer.concat(block.parts),
    );
    const stream = this.#streams.get(block.stream);
    if (!stream) return;
    const headers: Headers = {};
    for (const [name, value] of fields) {
      const seen = headers[name];
      headers[name] =
        seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
    }
    if (block.end) this.#remoteEnd(stream, () => stream.events.headers(headers, true));
    else stream.events.headers(headers, false);
  }

  #remoteEnd(stream: H2Stream, report: () => void): void {
    stream.remoteEnded = true;
    if (stream.localEnded) this.#forget(stream);
    report();
  }

  #settings(frame: Frame): void {
    if (frame.flags & Flag.Ack) return;
    if (frame.payload.length % 6 !== 0) throw new Error("SETTINGS of a length not a multiple of 6");
    for (let at = 0; at < frame.payload.length; at += 6) {
      const id = frame.payload.readUInt16BE(at);
      const value = frame.payload.readUInt32BE(at + 2);
      if (id === Setting.InitialWindowSize) {
        if (value > 0x7fffffff) throw new Error("SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1");
        const delta = value - this.#peerInitialWindow;
        for (const stream of this.#streams.values()) stream.sendWindow += delta;
        this.#peerInitialWindow = value;
      } else if (id === Setting.MaxFrameSize) {
        if (value < DEFAULT_MAX_FRAME || value > 0xffffff)
          throw new Error(`SETTINGS_MAX_FRAME_SIZE ${value}`);
        this.#peerMaxFrame = value;
      }
    }
    this.#socket.write(encodeFrame(FrameType.Settings, Flag.Ack, 0));
    this.flush();
  }

  #goaway(frame: Frame): void {
    const last = frame.payload.readUInt32BE(0) & 0x7fffffff;
    const code = frame.payload.readUInt32BE(4);
    this.#drain();
    // Streams past the last one the server will process never started there.
    for (const stream of [...this.#streams.values()]) {
      if (stream.id <= last) continue;
      this.#streams.delete(stream.id);
      stream.events.failed(
        `the server went away (GOAWAY, HTTP/2 error code ${code}) before the call started`,
        code,
      );
    }
    if (this.#streams.size === 0) this.#close();
  }

  #windowUpdate(frame: Frame): void {
    const increment = frame.payload.readUInt32BE(0) & 0x7fffffff;
    if (frame.stream === 0) {
      this.#sendWindow += increment;
    } else {
      const stream = this.#streams.get(frame.stream);
      if (stream) stream.sendWindow += increment;
    }
    this.flush();
  }

  #windowUpdateOut(stream: number, increment: number): void {
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(increment);
    this.#socket.write(encodeFrame(FrameType.WindowUpdate, 0, stream, payload));
  }

  /** Ends the socket; a peer that never answers our FIN must not keep it open. */
  #close(last?: Buffer): void {
    if (last) this.#socket.end(last);
    else this.#socket.end();
    setTimeout(() => this.#socket.destroy(), 1000).unref();
  }

  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#onGone();
  }

  /** The connection is over: every open stream fails with `reason`. */
  #fail(reason: string, goawayCode?: number): void {
    if (this.#destroyed) return;
    this.#drain();
    this.#destroyed = true;
    if (goawayCode !== undefined) {
      // Last stream 0: this side processes no server-initiated streams.
      const payload = Buffer.alloc(8);
      payload.writeUInt32BE(goawayCode, 4);
      this.#close(encodeFrame(FrameType.Goaway, 0, 0, payload));
    } else {
      this.#socket.destroy();
    }
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    for (const stream of streams) {
      stream.notifyDrained();
      stream.events.failed(reason, undefined);
    }
  }
}
