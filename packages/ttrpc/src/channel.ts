/**
 * A framed, full-duplex connection over any Node `Duplex` (a unix socket in practice,
 * an in-memory pair in tests). It owns the parser, serialises frames onto the socket
 * (Node writes are already ordered, so no send lock is needed), and applies
 * backpressure both ways: writers can wait for `drain`, and readers can hold the
 * socket paused while a stream's buffer is full.
 */
import type { Duplex } from "node:stream";
import { closedError } from "./errors.js";
import type { Frame, FrameHeader } from "./frame.js";
import {
  FrameParser,
  HEADER_LENGTH,
  MAX_PAYLOAD_LENGTH,
  oversizeError,
  writeHeader,
} from "./frame.js";

export interface ChannelOptions {
  /**
   * Stop reading while the socket's write buffer is full. A server sets this so a peer that
   * sends requests but never reads the answers cannot grow the server's memory; a client
   * must not (both sides waiting on each other would deadlock).
   */
  readonly pauseReadsWhileWriteBlocked?: boolean;
}

export interface ChannelHandlers {
  /** A complete frame arrived. */
  frame(frame: Frame): void;
  /** A frame over the size limit arrived; its payload is being skipped. */
  oversize(header: FrameHeader): void;
  /**
   * The connection is gone: peer EOF, socket error, or local close. Called once. `error`
   * is set for anything but a clean EOF or a local close.
   */
  close(error: Error | undefined): void;
}

// Payloads up to this size are copied next to the header and written in one call;
// larger ones are written as two buffers under cork, to avoid copying megabytes.
const COPY_THRESHOLD = 64 * 1024;

export class Channel {
  readonly #socket: Duplex;
  readonly #handlers: ChannelHandlers;
  readonly #parser = new FrameParser();
  readonly #holds = new Set<object>();
  readonly #writeHold: object | undefined;
  #pumping = false;
  #closed = false;
  #closeWaiters: (() => void)[] = [];

  constructor(socket: Duplex, handlers: ChannelHandlers, options: ChannelOptions = {}) {
    this.#socket = socket;
    this.#handlers = handlers;
    if (options.pauseReadsWhileWriteBlocked === true) {
      const hold = {};
      this.#writeHold = hold;
      socket.on("drain", () => this.release(hold));
    }
    socket.on("data", (chunk: Buffer) => {
      this.#parser.push(chunk);
      this.#pump();
    });
    socket.on("end", () => {
      const error = this.#parser.partial
        ? new Error("ttrpc: unexpected EOF inside a frame")
        : undefined;
      this.#shutdown(error);
    });
    socket.on("error", (err: Error) => this.#shutdown(err));
    socket.on("close", () => {
      this.#shutdown(undefined);
      for (const wake of this.#closeWaiters.splice(0)) wake();
    });
  }

  /** Whether the connection is closed (no more frames in either direction). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Writes one frame. Returns false when the socket's write buffer is full: the caller
   * should `await drain()` before sending more stream data. Throws RESOURCE_EXHAUSTED
   * for an oversize payload, and the closed error once the channel is closed.
   */
  send(streamId: number, type: number, flags: number, payload?: Uint8Array): boolean {
    const length = payload?.length ?? 0;
    if (length > MAX_PAYLOAD_LENGTH) throw oversizeError(length);
    if (this.#closed) throw closedError();
    if (payload === undefined || length <= COPY_THRESHOLD) {
      const frame = Buffer.allocUnsafe(HEADER_LENGTH + length);
      writeHeader(frame, 0, length, streamId, type, flags);
      if (payload !== undefined) frame.set(payload, HEADER_LENGTH);
      return this.#written(this.#socket.write(frame));
    }
    const header = Buffer.allocUnsafe(HEADER_LENGTH);
    writeHeader(header, 0, length, streamId, type, flags);
    this.#socket.cork();
    this.#socket.write(header);
    const ok = this.#socket.write(payload);
    this.#socket.uncork();
    return this.#written(ok);
  }

  #written(ok: boolean): boolean {
    if (!ok && this.#writeHold !== undefined) this.hold(this.#writeHold);
    return ok;
  }

  /** Resolves when the write buffer has drained; rejects with the closed error on close. */
  drain(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    if (!this.#socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        this.#socket.off("close", onClose);
        resolve();
      };
      const onClose = (): void => {
        this.#socket.off("drain", onDrain);
        reject(closedError());
      };
      this.#socket.once("drain", onDrain);
      this.#socket.once("close", onClose);
    });
  }

  /**
   * Stops reading frames until every holder has released. A stream whose buffer is full
   * holds the channel, so a slow consumer slows the peer down instead of growing memory.
   */
  hold(holder: object): void {
    if (this.#holds.size === 0 && !this.#closed) this.#socket.pause();
    this.#holds.add(holder);
  }

  release(holder: object): void {
    if (!this.#holds.delete(holder) || this.#holds.size > 0 || this.#closed) return;
    this.#pump();
    if (this.#holds.size === 0) this.#socket.resume();
  }

  /**
   * Closes gracefully: frames already written are flushed (for at most `flushTimeoutMs`,
   * in case the peer stopped reading), then the socket is destroyed. Resolves once closed.
   */
  end(flushTimeoutMs = 1000): Promise<void> {
    const closed = this.#waitClosed();
    this.#shutdown(undefined);
    if (!this.#socket.destroyed) {
      const timer = setTimeout(() => this.#socket.destroy(), flushTimeoutMs).unref();
      void closed.then(() => clearTimeout(timer));
    }
    return closed;
  }

  /** Closes at once; unsent frames are dropped. Resolves once it is closed. */
  destroy(): Promise<void> {
    const closed = this.#waitClosed();
    this.#shutdown(undefined);
    this.#socket.destroy();
    return closed;
  }

  #waitClosed(): Promise<void> {
    if (this.#socket.destroyed && this.#socket.closed) return Promise.resolve();
    return new Promise((resolve) => this.#closeWaiters.push(resolve));
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.#closed && this.#holds.size === 0) {
        const parsed = this.#parser.next();
        if (parsed === undefined) break;
        if (parsed.kind === "frame") this.#handlers.frame(parsed.frame);
        else this.#handlers.oversize(parsed.header);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #shutdown(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#holds.clear();
    // A peer that half-closed gets no more answers: like Go's ttrpc, EOF ends the connection.
    if (!this.#socket.destroyed && !this.#socket.writableEnded) {
      this.#socket.end(() => this.#socket.destroy());
    }
    this.#handlers.close(error);
  }
}
