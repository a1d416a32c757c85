/** One HTTP/2 stream of an H2Session, as its consumer (a gRPC call) sees it. */
import { ErrorCode } from "./frames.js";

/** What a stream needs of its session. */
export interface StreamOwner {
  flush(): void;
  reset(stream: H2Stream, code: number): void;
}

export type Headers = Record<string, string | string[]>;

/** What a stream reports to its one consumer. */
export interface StreamEvents {
  /** Response headers (first block) or trailers (`end`: the server closed its side). */
  headers(headers: Headers, end: boolean): void;
  data(chunk: Buffer): void;
  /** The server ended its side after data (END_STREAM on DATA). */
  end(): void;
  /** The stream ended abnormally: RST_STREAM from the server, GOAWAY past it, or a lost connection. */
  failed(reason: string, code: number | undefined): void;
}

/** The receive windows this side announces: large, as the old client's were. */
export const STREAM_WINDOW = 4 << 20;
export const CONNECTION_WINDOW = 64 << 20;
export const DEFAULT_WINDOW = 65_535;

export class H2Stream {
  readonly id: number;
  readonly events: StreamEvents;
  /** Bytes queued to send, waiting for window. */
  pending: Buffer[] = [];
  endPending = false;
  sendWindow: number;
  recvWindow = STREAM_WINDOW;
  recvConsumed = 0;
  localEnded = false;
  remoteEnded = false;
  readonly #session: StreamOwner;
  readonly #drainWaiters: (() => void)[] = [];

  constructor(session: StreamOwner, id: number, events: StreamEvents, sendWindow: number) {
    this.#session = session;
    this.id = id;
    this.events = events;
    this.sendWindow = sendWindow;
  }

  /** Sends `data` (and ends this side if `end`), as the windows allow. */
  write(data: Buffer, end = false): void {
    if (this.localEnded || this.endPending) return;
    if (data.length) this.pending.push(data);
    this.endPending = end;
    this.#session.flush();
  }

  /** Resolves once nothing waits for window (or the stream is gone): a sender's back-pressure. */
  drained(): Promise<void> {
    if (this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** The session sent everything queued, or dropped the stream. */
  notifyDrained(): void {
    for (const wake of this.#drainWaiters.splice(0)) wake();
  }

  /** Cancels the stream (RST_STREAM CANCEL) unless it is already over. */
  cancel(): void {
    this.#session.reset(this, ErrorCode.Cancel);
  }
}
