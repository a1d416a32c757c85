// Raw wire clients for the fault tests: gRPC over node:http2 (to send bytes
// the typed client never would) and ttrpc frames over a unix socket.
import http2 from "node:http2";
import net from "node:net";
import type { DescMessage, DescService } from "@bufbuild/protobuf";
import { FrameParser, type ParsedFrame } from "@sandboxd/ttrpc";
import { messageOf } from "@sandboxd/errdefs";

export interface Method {
  /** `/package.Service/Method` (gRPC) */
  path: string;
  service: string;
  name: string;
  input: DescMessage;
  streaming: boolean;
}

export function methodsOf(...services: DescService[]): Method[] {
  return services.flatMap((s) =>
    s.methods.map((m) => ({
      path: `/${s.typeName}/${m.name}`,
      service: s.typeName,
      name: m.name,
      input: m.input,
      streaming: m.methodKind !== "unary",
    })),
  );
}

/** A gRPC length-prefixed message: flag byte, 4-byte length, payload. */
export function grpcFrame(
  payload: Uint8Array,
  o: { compressed?: boolean; declaredLength?: number } = {},
): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = o.compressed ? 1 : 0;
  new DataView(out.buffer).setUint32(1, o.declaredLength ?? payload.length);
  out.set(payload, 5);
  return out;
}

export type Outcome =
  | { kind: "status"; code: number; message: string }
  | { kind: "http"; status: number }
  | { kind: "reset"; message: string }
  | { kind: "open-stream" }
  | { kind: "refused-locally"; message: string }
  | { kind: "timeout" };

/** One HTTP/2 session to a gRPC unix socket, made again whenever the server ends it. */
export class RawGrpc {
  readonly #socket: string;
  #session: http2.ClientHttp2Session | undefined;
  /** Sessions the server closed or broke (GOAWAY, protocol errors). */
  sessionsLost = 0;

  constructor(socket: string) {
    this.#socket = socket;
  }

  #current(): http2.ClientHttp2Session {
    const s = this.#session;
    if (s && !s.closed && !s.destroyed) return s;
    if (s) this.sessionsLost++;
    const session = http2.connect("http://localhost", {
      createConnection: () => net.connect(this.#socket),
      // No client-side cap: the server's limits are what is being tested.
      maxSendHeaderBlockLength: 1 << 20,
    });
    session.on("error", () => {});
    this.#session = session;
    return session;
  }

  /**
   * Sends one request; resolves with how it ended. A server-streaming call
   * still open after `streamMs` is cancelled and counts as "open-stream".
   */
  call(
    path: string,
    body: Uint8Array,
    o: {
      headers?: http2.OutgoingHttpHeaders;
      streaming?: boolean;
      timeoutMs?: number;
      streamMs?: number;
    } = {},
  ): Promise<Outcome> {
    return new Promise((resolve) => {
      let req: http2.ClientHttp2Stream;
      try {
        req = this.#current().request({
          ":method": "POST",
          ":path": path,
          "content-type": "application/grpc",
          te: "trailers",
          ...o.headers,
        });
      } catch (err) {
        resolve({ kind: "refused-locally", message: messageOf(err) });
        return;
      }
      let httpStatus = 0;
      let grpcStatus: string | undefined;
      let grpcMessage = "";
      let error: string | undefined;
      let settled = false;
      const finish = (outcome: Outcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
        resolve(outcome);
      };
      const timer = setTimeout(
        () => finish(o.streaming ? { kind: "open-stream" } : { kind: "timeout" }),
        o.streaming ? (o.streamMs ?? 300) : (o.timeoutMs ?? 20_000),
      );
      req.on("response", (h) => {
        httpStatus = Number(h[":status"] ?? 0);
        if (h["grpc-status"] !== undefined) {
          grpcStatus = String(h["grpc-status"]);
          grpcMessage = String(h["grpc-message"] ?? "");
        }
      });
      req.on("trailers", (h: http2.IncomingHttpHeaders) => {
        if (h["grpc-status"] !== undefined) {
          grpcStatus = String(h["grpc-status"]);
          grpcMessage = String(h["grpc-message"] ?? "");
        }
      });
      req.on("data", () => {});
      req.on("error", (err: Error) => (error = err.message));
      req.on("close", () => {
        if (grpcStatus !== undefined) {
          finish({
            kind: "status",
            code: Number(grpcStatus),
            message: decodeURIComponent(grpcMessage),
          });
        } else if (error !== undefined || httpStatus === 0) {
          finish({ kind: "reset", message: error ?? `stream closed (rst ${req.rstCode})` });
        } else {
          finish({ kind: "http", status: httpStatus });
        }
      });
      req.end(body);
    });
  }

  close(): void {
    this.#session?.close();
  }
}

export type TtrpcOutcome =
  | { kind: "response"; frames: number }
  | { kind: "closed"; frames: number }
  | { kind: "silent" }
  | { kind: "error"; message: string };

/**
 * Writes `bytes` to a fresh connection (in a few random-sized chunks when
 * `chunks` is given) and waits up to `waitMs` for a response frame or for the
 * server to close the connection.
 */
export function ttrpcExchange(
  socket: string,
  bytes: Uint8Array,
  o: { waitMs: number; chunks?: number[] },
): Promise<TtrpcOutcome> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    const parser = new FrameParser();
    let frames = 0;
    let settled = false;
    const finish = (outcome: TtrpcOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish(frames ? { kind: "response", frames } : { kind: "silent" }),
      o.waitMs,
    );
    s.on("data", (d: Buffer) => {
      let parsed: ParsedFrame[];
      try {
        parser.push(d);
        parsed = [];
        for (let f = parser.next(); f !== undefined; f = parser.next()) parsed.push(f);
      } catch (err) {
        finish({ kind: "error", message: `bad frame from the server: ${messageOf(err)}` });
        return;
      }
      frames += parsed.length;
      if (frames > 0) finish({ kind: "response", frames });
    });
    s.on("error", () => {});
    s.on("close", () => finish({ kind: "closed", frames }));
    s.on("connect", () => {
      let at = 0;
      for (const n of o.chunks ?? []) {
        if (at >= bytes.length) break;
        s.write(bytes.subarray(at, at + n));
        at += n;
      }
      if (at < bytes.length) s.write(bytes.subarray(at));
    });
  });
}
