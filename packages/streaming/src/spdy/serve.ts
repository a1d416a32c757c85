/**
 * remotecommand and portforward over a SPDY session, as kubelet's streaming server does them:
 * the client creates one stream per channel (header `streamType`), the server replies to each,
 * waits until all expected streams exist (within the creation timeout), runs the command, writes
 * the status on the error stream and closes the session. A session that ends early aborts the
 * runtime call, so nothing outlives the client.
 */
import type { Logger } from "@sandboxd/core";
import type { Runtime, StreamIO } from "../runtime.js";
import { runCommand, type CommandTarget } from "../protocol/command.js";
import {
  ResizeDecoder,
  ResizeQueue,
  StreamType,
  encodeStatus,
  hasResize,
  type CommandProtocol,
} from "../protocol/remotecommand.js";
import type { SpdySession, SpdyStream } from "./session.js";

export interface ServeOptions {
  runtime: Runtime;
  creationTimeoutMs: number;
  logger: Logger;
}

function quiet(stream: SpdyStream): SpdyStream {
  // Writes after the client left fail; the session's end is handled on its own.
  stream.on("error", () => undefined);
  return stream;
}

export async function serveSpdyCommand(
  session: SpdySession,
  protocol: CommandProtocol,
  target: CommandTarget,
  opts: ServeOptions,
): Promise<void> {
  const req = target.request;
  const expected = new Set<string>([StreamType.Error]);
  if (req.stdin) expected.add(StreamType.Stdin);
  if (req.stdout) expected.add(StreamType.Stdout);
  if (req.stderr && !req.tty) expected.add(StreamType.Stderr);
  if (req.tty && hasResize(protocol)) expected.add(StreamType.Resize);

  const abort = new AbortController();
  const onClose = (): void => abort.abort();
  session.once("close", onClose);
  const streams = new Map<string, SpdyStream>();
  let timer: NodeJS.Timeout | undefined;
  const resize = req.tty ? new ResizeQueue() : null;
  try {
    const ready = await new Promise<boolean>((resolve) => {
      const onStream = (stream: SpdyStream): void => {
        const type = stream.headers["streamtype"] ?? "";
        quiet(stream);
        if (!expected.has(type) || streams.has(type)) {
          stream.reset();
          return;
        }
        stream.reply();
        streams.set(type, stream);
        if (streams.size === expected.size) done(true);
      };
      const done = (ok: boolean): void => {
        session.off("stream", onStream);
        session.off("close", onGone);
        resolve(ok);
      };
      const onGone = (): void => done(false);
      session.on("stream", onStream);
      session.once("close", onGone);
      timer = setTimeout(() => done(false), opts.creationTimeoutMs);
    });
    clearTimeout(timer);
    if (!ready) {
      if (!session.closed)
        opts.logger.warn({ protocol }, "timed out waiting for client to create streams");
      return;
    }
    // Streams nobody asked for are refused from here on.
    session.on("stream", (s) => quiet(s).reset());

    const resizeStream = streams.get(StreamType.Resize);
    if (resizeStream && resize) {
      const decoder = new ResizeDecoder((size) => resize.push(size));
      resizeStream.on("data", (chunk: Buffer) => decoder.push(chunk));
    }
    const io: StreamIO = {
      stdin: streams.get(StreamType.Stdin) ?? null,
      stdout: streams.get(StreamType.Stdout) ?? null,
      stderr: streams.get(StreamType.Stderr) ?? null,
      tty: req.tty,
      resize,
    };
    const status = await runCommand(opts.runtime, target, io, abort.signal);
    if (status === null || session.closed) return;
    const payload = encodeStatus(protocol, status);
    const errorStream = streams.get(StreamType.Error)!;
    if (payload) errorStream.write(payload);
    await session.close();
  } finally {
    clearTimeout(timer);
    resize?.end();
    session.off("close", onClose);
    session.destroy();
  }
}

interface Pair {
  port: number;
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

/**
 * portforward.k8s.io: the client opens an error stream and a data stream per connection, both
 * carrying `port` and `requestID` (older clients omit requestID: the data stream's id minus 2
 * names its pair). Each complete pair is forwarded by the runtime until either side closes.
 */
export function serveSpdyPortForward(
  session: SpdySession,
  podSandboxId: string,
  opts: ServeOptions,
): Promise<void> {
  const abort = new AbortController();
  const pairs = new Map<string, Pair>();
  const running = new Set<Promise<void>>();

  const forward = async (pair: Pair): Promise<void> => {
    const data = pair.data!;
    const error = pair.error!;
    try {
      await opts.runtime.portForward(podSandboxId, pair.port, data, abort.signal);
    } catch (err) {
      if (!abort.signal.aborted) {
        const msg = err instanceof Error ? err.message : String(err);
        error.write(`error forwarding port ${pair.port} to pod ${podSandboxId}, uid : ${msg}`);
      }
    } finally {
      data.end();
      error.end();
    }
  };

  const onStream = (stream: SpdyStream): void => {
    quiet(stream);
    const type = stream.headers["streamtype"];
    const port = Number(stream.headers["port"]);
    if (
      (type !== StreamType.Data && type !== StreamType.Error) ||
      !Number.isInteger(port) ||
      port < 1 ||
      port > 65535
    ) {
      opts.logger.warn({ type, port: stream.headers["port"] }, "port-forward stream refused");
      stream.reset();
      return;
    }
    const id =
      stream.headers["requestid"] ?? String(type === StreamType.Data ? stream.id - 2 : stream.id);
    stream.reply();
    let pair = pairs.get(id);
    if (!pair) {
      const timer = setTimeout(() => {
        pairs.delete(id);
        const p = pair!;
        p.error?.end(`timed out waiting for both data and error streams for request ${id}`);
        p.data?.reset();
      }, opts.creationTimeoutMs);
      pair = { port, timer };
      pairs.set(id, pair);
    }
    if (type === StreamType.Data) pair.data = stream;
    else pair.error = stream;
    if (pair.data && pair.error) {
      clearTimeout(pair.timer);
      pairs.delete(id);
      const job = forward(pair);
      running.add(job);
      void job.finally(() => running.delete(job));
    }
  };

  session.on("stream", onStream);
  return new Promise((resolve) => {
    session.once("close", () => {
      session.off("stream", onStream);
      abort.abort();
      for (const pair of pairs.values()) clearTimeout(pair.timer);
      pairs.clear();
      void Promise.allSettled([...running]).then(() => resolve());
    });
  });
}
