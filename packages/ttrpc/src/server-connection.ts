/**
 * One accepted connection on the server side: reads frames, enforces the stream-id and
 * framing rules, runs handlers, and writes their answers. Protocol errors are answered
 * on the offending stream and never close the connection; only the peer going away, or
 * the server closing, does.
 */
import type { Duplex } from "node:stream";
import { Channel } from "./channel.js";
import { Code } from "./code.js";
import type { Status } from "./errors.js";
import { TtrpcError, closedError, isTtrpcError } from "./errors.js";
import { publishConnection, publishError } from "./diagnostics.js";
import type { Frame, FrameHeader } from "./frame.js";
import { Flag, MAX_PAYLOAD_LENGTH, MessageType, oversizeError } from "./frame.js";
import type { Request } from "./messages.js";
import { decodeRequest, encodeResponse } from "./messages.js";
import { metadataFromKeyValues } from "./metadata.js";
import type { HandlerContext, RawMethod, ServiceRegistry } from "./services.js";
import { createCallSignal } from "./signals.js";
import { MessageQueue, holdWhileFull } from "./stream.js";

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly registry: ServiceRegistry;
  readonly errorToStatus: (err: unknown) => Status;
  /** False once the server is shutting down: new requests are refused. */
  accepting(): boolean;
  /** The connection has no calls in flight any more. */
  idle(conn: ServerConnection): void;
  closed(conn: ServerConnection): void;
}

interface ActiveStream {
  readonly id: number;
  readonly service: string;
  readonly method: string;
  /** Data from the client, for client-streaming and bidi methods. */
  readonly requests: MessageQueue<Uint8Array> | undefined;
  readonly releaseHold: () => void;
  readonly dispose: () => void;
  remoteClosed: boolean;
  finished: boolean;
}

const EMPTY = new Uint8Array(0);

export class ServerConnection {
  readonly #channel: Channel;
  readonly #host: ConnectionHost;
  readonly #streams = new Map<number, ActiveStream>();
  readonly #abort = new AbortController();
  #lastStreamId = 0;

  constructor(socket: Duplex, host: ConnectionHost) {
    this.#host = host;
    this.#channel = new Channel(
      socket,
      {
        frame: (frame) => this.#onFrame(frame),
        oversize: (header) => this.#onOversize(header),
        close: (error) => this.#onClose(error),
      },
      { pauseReadsWhileWriteBlocked: true },
    );
    publishConnection({ side: "server", event: "open" });
  }

  /** Calls in flight on this connection. */
  get activeStreams(): number {
    return this.#streams.size;
  }

  get closed(): boolean {
    return this.#channel.closed;
  }

  /** Closes after flushing what was written; handlers still running are aborted. */
  end(): Promise<void> {
    return this.#channel.end();
  }

  /** Closes at once. */
  destroy(): Promise<void> {
    return this.#channel.destroy();
  }

  #onFrame(frame: Frame): void {
    if (frame.streamId % 2 !== 1) {
      this.#reject(
        frame.streamId,
        Code.InvalidArgument,
        "StreamID must be odd for client initiated streams",
      );
      return;
    }
    switch (frame.type) {
      case MessageType.Request:
        this.#onRequest(frame);
        return;
      case MessageType.Data:
        this.#onData(frame);
        return;
      default:
        // Go ignores unknown types silently; answering tells the peer why nothing happens.
        this.#streamError(
          frame.streamId,
          Code.InvalidArgument,
          `message type ${frame.type} is not accepted by a server`,
        );
    }
  }

  #onOversize(header: FrameHeader): void {
    const err = oversizeError(header.length);
    const stream = this.#streams.get(header.streamId);
    if (stream !== undefined) this.#finish(stream, { code: err.code, message: err.message });
    else this.#reject(header.streamId, err.code, err.message);
  }

  #onRequest(frame: Frame): void {
    const id = frame.streamId;
    if (id <= this.#lastStreamId) {
      this.#reject(id, Code.InvalidArgument, "StreamID cannot be re-used and must increment");
      return;
    }
    this.#lastStreamId = id;
    let req: Request;
    try {
      req = decodeRequest(frame.payload);
    } catch (err) {
      this.#reject(id, Code.InvalidArgument, `unmarshal request error: ${errorText(err)}`);
      return;
    }
    if (!this.#host.accepting()) {
      this.#reject(id, Code.Unavailable, "ttrpc: server closed");
      return;
    }
    const def = this.#host.registry.lookup(req.service, req.method);
    if (isTtrpcError(def)) {
      this.#reject(id, def.code, def.message);
      return;
    }
    this.#start(id, frame.flags, req, def);
  }

  #start(id: number, flags: number, req: Request, def: RawMethod): void {
    const deadline =
      req.timeoutNano === 0n ? undefined : Date.now() + Number(req.timeoutNano) / 1e6;
    const call = createCallSignal(this.#abort.signal, deadline);
    const streamingIn = def.kind === "client_streaming" || def.kind === "bidi_streaming";
    let requests: MessageQueue<Uint8Array> | undefined;
    let releaseHold = (): void => {};
    if (streamingIn) {
      const hold = holdWhileFull(this.#channel, () => {
        this.#finish(stream, {
          code: Code.ResourceExhausted,
          message: "ttrpc: stream buffer full",
        });
      });
      requests = new MessageQueue<Uint8Array>(undefined, hold);
      releaseHold = hold.dispose;
    }
    const stream: ActiveStream = {
      id,
      service: req.service,
      method: req.method,
      requests,
      releaseHold,
      dispose: call.dispose,
      remoteClosed: !streamingIn,
      finished: false,
    };
    this.#streams.set(id, stream);
    if (requests !== undefined) {
      // containerd/ttrpc#126: a present payload is the first message, even when empty.
      if (req.hasPayload) requests.push(req.payload);
      // Without "remote open" the client sends nothing more (a unary-style call).
      if ((flags & Flag.RemoteOpen) === 0) {
        stream.remoteClosed = true;
        requests.end();
      }
    }
    const ctx: HandlerContext = {
      signal: call.signal,
      deadline,
      metadata: metadataFromKeyValues(req.metadata),
      service: req.service,
      method: req.method,
      streamId: id,
    };
    void this.#run(stream, def, req.payload, ctx);
  }

  async #run(
    stream: ActiveStream,
    def: RawMethod,
    payload: Uint8Array,
    ctx: HandlerContext,
  ): Promise<void> {
    try {
      switch (def.kind) {
        case "unary":
          this.#finish(stream, undefined, checkBytes(await def.handler(payload, ctx)));
          return;
        case "client_streaming":
          this.#finish(stream, undefined, checkBytes(await def.handler(stream.requests!, ctx)));
          return;
        case "server_streaming":
          await this.#sendAll(stream, def.handler(payload, ctx));
          this.#finishData(stream);
          return;
        case "bidi_streaming":
          await this.#sendAll(stream, def.handler(stream.requests!, ctx));
          this.#finishData(stream);
          return;
      }
    } catch (err) {
      if (stream.finished) return;
      let status: Status;
      try {
        status = this.#host.errorToStatus(err);
      } catch (mapErr) {
        status = { code: Code.Unknown, message: errorText(mapErr) };
      }
      publishError({
        side: "server",
        streamId: stream.id,
        service: stream.service,
        method: stream.method,
        error: err,
      });
      this.#finish(stream, status);
    }
  }

  async #sendAll(stream: ActiveStream, messages: AsyncIterable<Uint8Array>): Promise<void> {
    for await (const message of messages) {
      if (stream.finished) break;
      if (!this.#channel.send(stream.id, MessageType.Data, 0, checkBytes(message))) {
        await this.#channel.drain();
      }
    }
  }

  #onData(frame: Frame): void {
    const stream = this.#streams.get(frame.streamId);
    if (stream === undefined) {
      this.#reject(frame.streamId, Code.InvalidArgument, "StreamID is no longer active");
      return;
    }
    const close = (frame.flags & Flag.RemoteClosed) !== 0;
    const hasData = (frame.flags & Flag.NoData) === 0;
    if (stream.remoteClosed || stream.requests === undefined) {
      this.#streamError(
        stream.id,
        Code.InvalidArgument,
        "data handling error: ttrpc: stream closed",
      );
      return;
    }
    if (close && frame.payload.length > 0) {
      this.#streamError(stream.id, Code.InvalidArgument, "data close message cannot include data");
      return;
    }
    // A consumer that stopped reading early makes push a no-op: its data is dropped.
    if (hasData) stream.requests.push(frame.payload);
    if (close) {
      stream.remoteClosed = true;
      stream.requests.end();
    }
  }

  /** Ends the stream `id` (if active) with an error status. */
  #streamError(id: number, code: Code, message: string): void {
    const stream = this.#streams.get(id);
    if (stream === undefined) {
      this.#reject(id, code, message);
      return;
    }
    publishError({ side: "server", streamId: id, error: new TtrpcError(code, message) });
    this.#finish(stream, { code, message });
  }

  /** Answers a frame that opened no stream, with a status on its stream id. */
  #reject(id: number, code: Code, message: string): void {
    publishError({ side: "server", streamId: id, error: new TtrpcError(code, message) });
    this.#write(
      id,
      MessageType.Response,
      0,
      encodeResponse({ status: { code, message }, payload: EMPTY }),
    );
  }

  /** Ends a stream with a Response frame: OK with `payload`, or `status`. */
  #finish(stream: ActiveStream, status: Status | undefined, payload: Uint8Array = EMPTY): void {
    if (!this.#retire(stream)) return;
    let bytes = encodeResponse({ status, payload });
    if (bytes.length > MAX_PAYLOAD_LENGTH) {
      const err = oversizeError(bytes.length);
      bytes = encodeResponse({ status: { code: err.code, message: err.message }, payload: EMPTY });
    }
    this.#write(stream.id, MessageType.Response, 0, bytes);
    this.#afterStream();
  }

  /** Ends a server-streaming or bidi stream successfully: Data with RC|NoData. */
  #finishData(stream: ActiveStream): void {
    if (!this.#retire(stream)) return;
    this.#write(stream.id, MessageType.Data, Flag.RemoteClosed | Flag.NoData);
    this.#afterStream();
  }

  #retire(stream: ActiveStream): boolean {
    if (stream.finished) return false;
    stream.finished = true;
    this.#streams.delete(stream.id);
    stream.releaseHold();
    stream.requests?.fail(new TtrpcError(Code.Canceled, "ttrpc: stream closed"));
    stream.dispose();
    return true;
  }

  #afterStream(): void {
    if (this.#streams.size === 0 && !this.#channel.closed) this.#host.idle(this);
  }

  #write(id: number, type: number, flags: number, payload?: Uint8Array): void {
    if (this.#channel.closed) return;
    try {
      this.#channel.send(id, type, flags, payload);
    } catch (err) {
      publishError({ side: "server", streamId: id, error: err });
    }
  }

  #onClose(error: Error | undefined): void {
    this.#abort.abort(closedError(error));
    for (const stream of [...this.#streams.values()]) this.#retire(stream);
    publishConnection({ side: "server", event: "close", error });
    this.#host.closed(this);
  }
}

function checkBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw new TtrpcError(Code.Unknown, "ttrpc: marshal called with nil");
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
