/**
 * containerd's stream manager (plugins/streaming/manager.go): a Streaming.Stream
 * call files its stream under (namespace, id) from its StreamInit; a later
 * Transfer call looks it up by the id it names (progress, credentials, archive
 * bytes). A stream leaves the table when its call ends or the server closes it.
 */
import type { Any } from "@bufbuild/protobuf/wkt";
import { alreadyExists, notFound } from "@sandboxd/errdefs";

/** A FIFO whose reader waits; `end` makes the reader see undefined once drained. */
export class AsyncQueue<T> {
  readonly #items: T[] = [];
  #waiter: (() => void) | undefined;
  #ended = false;

  push(item: T): void {
    if (this.#ended) return;
    this.#items.push(item);
    this.#wake();
  }

  end(): void {
    this.#ended = true;
    this.#wake();
  }

  get ended(): boolean {
    return this.#ended;
  }

  async next(signal?: AbortSignal): Promise<T | undefined> {
    for (;;) {
      if (this.#items.length > 0) return this.#items.shift();
      if (this.#ended || signal?.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          signal?.removeEventListener("abort", done);
          resolve();
        };
        this.#waiter = done;
        signal?.addEventListener("abort", done, { once: true });
      });
      this.#waiter = undefined;
    }
  }

  #wake(): void {
    this.#waiter?.();
  }
}

/** One side of a registered stream, as the daemon sees it. */
export interface AnyStream {
  /** Queues a message to the client (dropped once closed). */
  send(message: Any): void;
  /** The client's next message; undefined once it half-closed or went away. */
  recv(signal?: AbortSignal): Promise<Any | undefined>;
  /** Ends the Streaming call (the client reads EOF). */
  close(): void;
}

export class ServerStream implements AnyStream {
  readonly inbound = new AsyncQueue<Any>();
  readonly outbound = new AsyncQueue<Any>();

  send(message: Any): void {
    this.outbound.push(message);
  }

  recv(signal?: AbortSignal): Promise<Any | undefined> {
    return this.inbound.next(signal);
  }

  close(): void {
    this.outbound.end();
  }
}

export class StreamManager {
  readonly #streams = new Map<string, ServerStream>();

  register(namespace: string, id: string, stream: ServerStream): () => void {
    const key = `${namespace}/${id}`;
    if (this.#streams.has(key)) throw alreadyExists(`stream ${JSON.stringify(id)}`);
    this.#streams.set(key, stream);
    return () => {
      if (this.#streams.get(key) === stream) this.#streams.delete(key);
    };
  }

  get(namespace: string, id: string): ServerStream {
    const stream = this.#streams.get(`${namespace}/${id}`);
    if (!stream)
      throw notFound(`stream ${JSON.stringify(id)} (open it with Streaming.Stream first)`);
    return stream;
  }
}
