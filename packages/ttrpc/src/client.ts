/**
 * A ttrpc client: one connection, many concurrent calls. Each call opens a stream with
 * the next odd id (ids strictly increase on the wire, because allocation and the write
 * of the Request happen in one synchronous step); answers are matched by id and may
 * come back in any order.
 */
import net from "node:net";
import type { Duplex } from "node:stream";
import { Channel } from "./channel.js";
import type { BidiStream, ClientStream, ServerStream, StreamKind } from "./client-stream.js";
import { ClientStreamCall } from "./client-stream.js";
import { Code } from "./code.js";
import { errorText } from "./codec.js";
import { TtrpcError, closedError } from "./errors.js";
import { publishConnection, publishError } from "./diagnostics.js";
import type { Frame, FrameHeader } from "./frame.js";
import { Flag, MAX_PAYLOAD_LENGTH, MessageType, oversizeError } from "./frame.js";
import { decodeResponse, encodeRequest } from "./messages.js";
import type { MetadataInit } from "./metadata.js";
import { metadataToKeyValues } from "./metadata.js";
import type { DeadlineOptions } from "./signals.js";
import { abortError, resolveDeadline, watchCall } from "./signals.js";

export interface CallOptions extends DeadlineOptions {
  /** Cancels the call locally: it fails with CANCELLED and a late answer is dropped. */
  readonly signal?: AbortSignal | undefined;
  /** Sent in `Request.metadata`; keys are lower-cased. */
  readonly metadata?: MetadataInit | undefined;
}

export interface ConnectOptions extends DeadlineOptions {
  /** Aborts connecting. */
  readonly signal?: AbortSignal | undefined;
  /** Called once when the connection closes, with the socket error if there was one. */
  readonly onClose?: ((error: Error | undefined) => void) | undefined;
}

type CloseListener = (error: Error | undefined) => void;

interface Pending {
  receive(frame: Frame): void;
  fail(err: TtrpcError): void;
}

const MAX_STREAM_ID = 0xffffffff;

/**
 * Connects to a ttrpc server at a unix socket path (`unix://` prefix accepted; a path
 * starting with NUL is a Linux abstract socket), or wraps a connected Duplex.
 * Connection failures are UNAVAILABLE.
 */
export async function connect(
  target: string | Duplex,
  options: ConnectOptions = {},
): Promise<Client> {
  if (typeof target !== "string") return new Client(target, options);
  const path = target.startsWith("unix://") ? target.slice("unix://".length) : target;
  const socket = net.createConnection({ path });
  await new Promise<void>((resolve, reject) => {
    let stop = (): void => {};
    const fail = (err: TtrpcError): void => {
      stop();
      socket.destroy();
      reject(err);
    };
    const onError = (err: Error): void =>
      fail(
        new TtrpcError(Code.Unavailable, `ttrpc: dial unix ${path}: ${err.message}`, {
          cause: err,
        }),
      );
    const onConnect = (): void => {
      stop();
      socket.off("error", onError);
      resolve();
    };
    socket.once("error", onError);
    socket.once("connect", onConnect);
    stop = watchCall(options.signal, resolveDeadline(options), fail);
  });
  return new Client(socket, options);
}

export class Client {
  readonly #channel: Channel;
  readonly #pending = new Map<number, Pending>();
  readonly #closeListeners = new Set<CloseListener>();
  #nextId = 1;
  #closed: { readonly error: Error | undefined } | undefined;

  /** Wraps an already connected socket (see {@link connect}). */
  constructor(socket: Duplex, options: Pick<ConnectOptions, "onClose"> = {}) {
    if (options.onClose !== undefined) this.#closeListeners.add(options.onClose);
    this.#channel = new Channel(socket, {
      frame: (frame) => this.#receive(frame),
      oversize: (header) => this.#oversize(header),
      close: (error) => this.#onClose(error),
    });
    publishConnection({ side: "client", event: "open" });
  }

  /** Whether the connection is closed; every call now fails with the closed error. */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** Calls in flight. */
  get pendingCalls(): number {
    return this.#pending.size;
  }

  /**
   * A unary call: sends `request` (the serialized request message) and resolves with the
   * serialized response. A non-OK status rejects with a {@link TtrpcError} carrying it;
   * the deadline (sent as `timeout_nano`) and the signal also end the call locally.
   */
  call(
    service: string,
    method: string,
    request: Uint8Array,
    options: CallOptions = {},
  ): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      const opened = this.#open(service, method, request, options);
      if (opened instanceof TtrpcError) {
        reject(opened);
        return;
      }
      const { id, payload, deadline } = opened;
      const pending: Pending = {
        receive: (frame) => {
          dispose();
          if (frame.type !== MessageType.Response) {
            reject(
              new TtrpcError(
                Code.Internal,
                `ttrpc: unexpected message type ${frame.type} on a unary call`,
              ),
            );
            return;
          }
          let res;
          try {
            res = decodeResponse(frame.payload);
          } catch (err) {
            reject(
              new TtrpcError(Code.Internal, `ttrpc: invalid response: ${errorText(err)}`, {
                cause: err,
              }),
            );
            return;
          }
          if (res.status !== undefined && res.status.code !== Code.OK)
            reject(TtrpcError.fromStatus(res.status));
          else resolve(res.payload);
        },
        fail: (err) => {
          dispose();
          reject(err);
        },
      };
      let stopWatching = (): void => {};
      const dispose = (): void => {
        stopWatching();
        this.#pending.delete(id);
      };
      this.#pending.set(id, pending);
      this.#send(id, MessageType.Request, 0, payload, pending);
      if (this.#pending.has(id))
        stopWatching = watchCall(options.signal, deadline, (err) => pending.fail(err));
    });
  }

  /** A server-streaming call (Request with RC): one request, many responses. */
  serverStream(
    service: string,
    method: string,
    request: Uint8Array,
    options: CallOptions = {},
  ): ServerStream {
    return this.#stream("server_streaming", service, method, request, options);
  }

  /** A client-streaming call (Request with RO): many requests, one response. */
  clientStream(service: string, method: string, options: CallOptions = {}): ClientStream {
    return this.#stream("client_streaming", service, method, undefined, options);
  }

  /** A bidirectional streaming call (Request with RO). */
  bidiStream(service: string, method: string, options: CallOptions = {}): BidiStream {
    return this.#stream("bidi_streaming", service, method, undefined, options);
  }

  /**
   * Registers `listener` for when the connection closes; returns a function that removes
   * it. A listener added after the close runs on the next tick.
   */
  onClose(listener: CloseListener): () => void {
    if (this.#closed !== undefined) {
      const { error } = this.#closed;
      queueMicrotask(() => listener(error));
      return () => {};
    }
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /**
   * Closes the connection gracefully: frames already written (say, a just-sent Shutdown
   * request) are flushed first. Calls still waiting for an answer fail with the closed
   * error (UNAVAILABLE), as with Go's `Client.Close`.
   */
  close(): Promise<void> {
    return this.#channel.end();
  }

  #stream(
    kind: StreamKind,
    service: string,
    method: string,
    request: Uint8Array | undefined,
    options: CallOptions,
  ): ClientStreamCall {
    const flags = kind === "server_streaming" ? Flag.RemoteClosed : Flag.RemoteOpen;
    const opened = this.#open(service, method, request ?? new Uint8Array(0), options);
    const id = opened instanceof TtrpcError ? 0 : opened.id;
    const call = new ClientStreamCall(
      { channel: this.#channel, forget: (i) => this.#pending.delete(i) },
      id,
      kind,
    );
    if (opened instanceof TtrpcError) {
      call.fail(opened);
      return call;
    }
    this.#pending.set(id, call);
    this.#send(id, MessageType.Request, flags, opened.payload, call);
    if (this.#pending.has(id)) {
      call.onFinish = watchCall(options.signal, opened.deadline, (err) => call.cancel(err));
    }
    return call;
  }

  /** Checks and encodes a Request and allocates its stream id, or says why not. */
  #open(
    service: string,
    method: string,
    request: Uint8Array,
    options: CallOptions,
  ): { id: number; payload: Uint8Array; deadline: number | undefined } | TtrpcError {
    if (this.#closed !== undefined) return closedError(this.#closed.error);
    if (options.signal?.aborted === true) return abortError(options.signal);
    const now = Date.now();
    const deadline = resolveDeadline(options, now);
    if (deadline !== undefined && deadline <= now) {
      return new TtrpcError(Code.DeadlineExceeded, "context deadline exceeded");
    }
    const timeoutNano = deadline === undefined ? 0n : BigInt(Math.ceil((deadline - now) * 1e6));
    let payload: Uint8Array;
    try {
      payload = encodeRequest({
        service,
        method,
        payload: request,
        timeoutNano,
        metadata: metadataToKeyValues(options.metadata),
      });
    } catch (err) {
      return new TtrpcError(Code.Internal, `ttrpc: error marshaling request: ${errorText(err)}`, {
        cause: err,
      });
    }
    if (payload.length > MAX_PAYLOAD_LENGTH) return oversizeError(payload.length);
    if (this.#nextId > MAX_STREAM_ID) {
      return new TtrpcError(Code.ResourceExhausted, "ttrpc: stream ids exhausted, reconnect");
    }
    const id = this.#nextId;
    this.#nextId += 2;
    return { id, payload, deadline };
  }

  #send(id: number, type: number, flags: number, payload: Uint8Array, pending: Pending): void {
    try {
      this.#channel.send(id, type, flags, payload);
    } catch (err) {
      pending.fail(err instanceof TtrpcError ? err : closedError(err));
    }
  }

  #receive(frame: Frame): void {
    const pending = this.#pending.get(frame.streamId);
    if (pending === undefined) {
      publishError({
        side: "client",
        streamId: frame.streamId,
        error: new Error("ttrpc: received message on inactive stream"),
      });
      return;
    }
    pending.receive(frame);
  }

  #oversize(header: FrameHeader): void {
    const pending = this.#pending.get(header.streamId);
    const err = oversizeError(header.length);
    publishError({ side: "client", streamId: header.streamId, error: err });
    pending?.fail(err);
  }

  #onClose(error: Error | undefined): void {
    this.#closed = { error };
    const err = closedError(error);
    for (const pending of [...this.#pending.values()]) pending.fail(err);
    this.#pending.clear();
    publishConnection({ side: "client", event: "close", error });
    // Listeners run outside the socket's event handler, so one that throws cannot
    // leave this client half-closed.
    for (const listener of this.#closeListeners) queueMicrotask(() => listener(error));
    this.#closeListeners.clear();
  }
}
