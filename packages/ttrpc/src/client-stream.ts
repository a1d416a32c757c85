/**
 * The client side of a streaming call. One class serves the three shapes:
 *
 * | kind             | Request flags | client sends       | server ends with                         |
 * |------------------|---------------|--------------------|------------------------------------------|
 * | server_streaming | RC            | nothing            | Data RC(+NoData), or Response on error   |
 * | client_streaming | RO            | Data…, RC|NoData   | Response (status + payload)              |
 * | bidi_streaming   | RO            | Data…, RC|NoData   | Data RC(+NoData), or Response on error   |
 */
import type { Channel } from "./channel.js";
import { Code } from "./code.js";
import { errorText } from "./codec.js";
import { TtrpcError, isTtrpcError } from "./errors.js";
import type { Frame } from "./frame.js";
import { Flag, MessageType } from "./frame.js";
import { decodeResponse } from "./messages.js";
import { MessageQueue, holdWhileFull } from "./stream.js";

export type StreamKind = "server_streaming" | "client_streaming" | "bidi_streaming";

/** Messages from the server, read with `for await`. */
export interface ServerStream extends AsyncIterableIterator<Uint8Array> {
  /** Stops the call locally (ttrpc has no cancel frame); later frames are dropped. */
  cancel(reason?: unknown): void;
}

/** A call that sends many messages and gets one answer. */
export interface ClientStream {
  /** Sends one message; waits while the socket's write buffer is full. */
  send(message: Uint8Array): Promise<void>;
  /** Tells the server no more messages follow (Data with RC|NoData). */
  closeSend(): Promise<void>;
  /** The server's answer. */
  readonly response: Promise<Uint8Array>;
  cancel(reason?: unknown): void;
}

/** A call where both sides send many messages. */
export interface BidiStream extends ServerStream {
  send(message: Uint8Array): Promise<void>;
  closeSend(): Promise<void>;
}

export interface StreamHost {
  readonly channel: Channel;
  /** Drops the stream id: later frames for it are ignored. */
  forget(id: number): void;
}

const streamClosed = (): TtrpcError =>
  new TtrpcError(Code.FailedPrecondition, "ttrpc: stream closed");

export class ClientStreamCall implements BidiStream, ClientStream {
  readonly id: number;
  readonly #kind: StreamKind;
  readonly #host: StreamHost;
  readonly #queue: MessageQueue<Uint8Array>;
  readonly #hold: ReturnType<typeof holdWhileFull>;
  readonly response: Promise<Uint8Array>;
  #resolve!: (payload: Uint8Array) => void;
  #reject!: (err: unknown) => void;
  #localClosed: boolean;
  #failure: TtrpcError | undefined;
  #finished = false;
  #onFinish: () => void = () => {};

  constructor(host: StreamHost, id: number, kind: StreamKind) {
    this.id = id;
    this.#kind = kind;
    this.#host = host;
    this.#localClosed = kind === "server_streaming";
    this.#hold = holdWhileFull(host.channel, () =>
      this.#fail(new TtrpcError(Code.ResourceExhausted, "ttrpc: stream buffer full")),
    );
    this.#queue = new MessageQueue<Uint8Array>(undefined, {
      onFull: this.#hold.onFull,
      onDrain: this.#hold.onDrain,
      onReturn: () => this.cancel(),
    });
    this.response = new Promise<Uint8Array>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Callers of server and bidi streams never look at `response`.
    this.response.catch(() => {});
  }

  /** Runs once when the stream is finished, whichever way. */
  set onFinish(fn: () => void) {
    this.#onFinish = fn;
  }

  async send(message: Uint8Array): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#localClosed || this.#finished) throw streamClosed();
    if (!this.#host.channel.send(this.id, MessageType.Data, 0, message)) {
      await this.#host.channel.drain();
    }
  }

  async closeSend(): Promise<void> {
    if (this.#localClosed || this.#finished) return;
    this.#localClosed = true;
    if (!this.#host.channel.send(this.id, MessageType.Data, Flag.RemoteClosed | Flag.NoData)) {
      await this.#host.channel.drain();
    }
  }

  cancel(reason?: unknown): void {
    if (this.#finished) return;
    // The server's handler may be waiting for input: tell it none follows.
    if (!this.#localClosed && !this.#host.channel.closed) {
      this.#localClosed = true;
      this.#host.channel.send(this.id, MessageType.Data, Flag.RemoteClosed | Flag.NoData);
    }
    this.#fail(
      isTtrpcError(reason)
        ? reason
        : new TtrpcError(Code.Canceled, "context canceled", { cause: reason }),
    );
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    return this.#queue.next();
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    return this.#queue.return();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** A frame for this stream arrived. */
  receive(frame: Frame): void {
    if (frame.type === MessageType.Response) {
      let status, payload;
      try {
        ({ status, payload } = decodeResponse(frame.payload));
      } catch (err) {
        this.#fail(
          new TtrpcError(Code.Internal, `ttrpc: invalid response: ${errorText(err)}`, {
            cause: err,
          }),
        );
        return;
      }
      if (status !== undefined && status.code !== Code.OK) {
        this.#fail(TtrpcError.fromStatus(status));
        return;
      }
      if (this.#kind === "client_streaming") this.#resolve(payload);
      else if (payload.length > 0) this.#queue.push(payload);
      this.#end();
      return;
    }
    if (frame.type === MessageType.Data && this.#kind !== "client_streaming") {
      if ((frame.flags & Flag.NoData) === 0) this.#queue.push(frame.payload);
      if ((frame.flags & Flag.RemoteClosed) !== 0) this.#end();
      return;
    }
    this.#fail(
      new TtrpcError(
        Code.Internal,
        `ttrpc: unexpected message type ${frame.type} on a ${this.#kind} call`,
      ),
    );
  }

  /** The call failed: connection lost, cancelled, oversize frame, or an error status. */
  fail(err: TtrpcError): void {
    this.#fail(err);
  }

  #end(): void {
    if (this.#finished) return;
    this.#queue.end();
    // A client stream answered OK without reading all input: nothing more is sent.
    this.#reject(streamClosed());
    this.#finish();
  }

  #fail(err: TtrpcError): void {
    if (this.#finished) return;
    this.#failure = err;
    this.#queue.fail(err);
    this.#reject(err);
    this.#finish();
  }

  #finish(): void {
    this.#finished = true;
    this.#hold.dispose();
    this.#host.forget(this.id);
    this.#onFinish();
  }
}
