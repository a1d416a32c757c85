/**
 * The streaming server behind CRI's Exec, Attach and PortForward: GetExec/GetAttach/
 * GetPortForward cache the request under a single-use token and answer a URL
 * (`http://ADDR/exec/TOKEN`, like kubelet's and containerd's); the client then upgrades that URL
 * to SPDY/3.1 or WebSocket and the bytes flow through the Runtime.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { silentLogger, type Logger } from "@sandboxd/core";
import { invalidArgument } from "@sandboxd/errdefs";
import type { AttachRequest, ExecRequest, PortForwardRequest, Runtime } from "./runtime.js";
import { TokenCache } from "./tokens.js";
import {
  acceptedProtocolsHeader,
  headerValues,
  isUpgrade,
  negotiate,
  protocolHeader,
  rawResponse,
  switchingProtocols,
} from "./http.js";
import {
  Protocol,
  portForwardProtocol,
  spdyCommandProtocols,
  type CommandProtocol,
} from "./protocol/remotecommand.js";
import type { CommandTarget } from "./protocol/command.js";
import { SpdySession } from "./spdy/session.js";
import { serveSpdyCommand, serveSpdyPortForward, type ServeOptions } from "./spdy/serve.js";
import { serveWebSocket } from "./websocket/serve.js";

export interface StreamingServerOptions {
  runtime: Runtime;
  /** host:port to listen on; loopback with a random port by default (containerd's default). */
  address?: string;
  /** Token lifetime (kubelet: 1 minute). */
  tokenTtlMs?: number;
  /** How long a client may take to create its streams (kubelet: 30 s). */
  streamCreationTimeoutMs?: number;
  /** A session without traffic for this long is closed (kubelet: 4 h). */
  streamIdleTimeoutMs?: number;
  /** Live tokens at most (kubelet: 1000). */
  maxInFlight?: number;
  logger?: Logger;
}

type Cached = CommandTarget | { kind: "portforward"; request: PortForwardRequest };

/** "host:port", "[v6]:port" or "v6:port" (the port after the last colon). */
function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(":");
  const portText = address.slice(at + 1);
  if (at < 0 || !/^\d+$/.test(portText)) {
    throw invalidArgument(`streaming server address ${JSON.stringify(address)} is not host:port`);
  }
  const port = Number(portText);
  if (port > 65535) throw invalidArgument(`streaming server port ${port} is out of range`);
  return { host: address.slice(0, at).replace(/^\[(.*)\]$/, "$1"), port };
}

function validateStdio(r: {
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}): void {
  if (r.tty && r.stderr) throw invalidArgument("tty and stderr cannot both be true");
  if (!r.stdin && !r.stdout && !r.stderr) {
    throw invalidArgument("one of stdin, stdout, or stderr must be set");
  }
}

export class StreamingServer {
  private readonly cache: TokenCache<Cached>;
  private readonly sessions = new Set<{ destroy(): void }>();
  private readonly serve: ServeOptions;
  private readonly idleTimeoutMs: number;

  private readonly server: http.Server;
  /** Base URL the returned URLs start with, e.g. http://127.0.0.1:41234 */
  readonly url: string;

  private constructor(server: http.Server, url: string, opts: StreamingServerOptions) {
    this.server = server;
    this.url = url;
    const logger = opts.logger ?? silentLogger;
    this.cache = new TokenCache(opts.tokenTtlMs ?? 60_000, opts.maxInFlight ?? 1000);
    this.serve = {
      runtime: opts.runtime,
      creationTimeoutMs: opts.streamCreationTimeoutMs ?? 30_000,
      logger,
    };
    this.idleTimeoutMs = opts.streamIdleTimeoutMs ?? 4 * 60 * 60 * 1000;
    server.on("request", (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(400, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("unable to upgrade: missing upgrade headers in request\n");
    });
    server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on("error", () => socket.destroy());
      try {
        this.onUpgrade(req, socket, head);
      } catch (err) {
        logger.error({ error: err }, "streaming upgrade failed");
        rawResponse(socket, 500, "internal error");
      }
    });
  }

  static async start(opts: StreamingServerOptions): Promise<StreamingServer> {
    const { host, port } = splitAddress(opts.address ?? "127.0.0.1:0");
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    const h = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
    return new StreamingServer(server, `http://${h}:${addr.port}`, opts);
  }

  /** Sessions (SPDY or WebSocket) currently connected. */
  get activeSessions(): number {
    return this.sessions.size;
  }

  /** Tokens handed out and not yet used or evicted. */
  get pendingTokens(): number {
    return this.cache.size;
  }

  getExec(req: ExecRequest): { url: string } {
    if (!req.containerId) throw invalidArgument("missing required container_id");
    if (req.cmd.length === 0) throw invalidArgument("cmd must not be empty");
    validateStdio(req);
    return {
      url: `${this.url}/exec/${this.cache.insert({ kind: "exec", request: { ...req, cmd: [...req.cmd] } })}`,
    };
  }

  getAttach(req: AttachRequest): { url: string } {
    if (!req.containerId) throw invalidArgument("missing required container_id");
    validateStdio(req);
    return {
      url: `${this.url}/attach/${this.cache.insert({ kind: "attach", request: { ...req } })}`,
    };
  }

  getPortForward(req: PortForwardRequest): { url: string } {
    if (!req.podSandboxId) throw invalidArgument("missing required pod_sandbox_id");
    return {
      url: `${this.url}/portforward/${this.cache.insert({ kind: "portforward", request: { ...req } })}`,
    };
  }

  /** Stops listening and ends every session (their runtime calls are aborted). */
  async close(): Promise<void> {
    for (const s of [...this.sessions]) s.destroy();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private track(session: { destroy(): void }, done: Promise<void>, fields: object): void {
    const started = Date.now();
    this.sessions.add(session);
    this.serve.logger.debug(fields, "streaming session started");
    void done.finally(() => {
      this.sessions.delete(session);
      this.serve.logger.debug({ ...fields, ms: Date.now() - started }, "streaming session ended");
    });
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const m = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)(?:\?.*)?$/.exec(req.url ?? "");
    const cached = m ? this.cache.consume(m[2]!) : null;
    if (!m || !cached || cached.kind !== m[1]) {
      rawResponse(socket, 404, "404 page not found");
      return;
    }
    const fields = {
      kind: cached.kind,
      id: cached.kind === "portforward" ? cached.request.podSandboxId : cached.request.containerId,
    };
    if (isUpgrade(req, "websocket")) {
      const session = serveWebSocket(req, socket, head, cached, {
        ...this.serve,
        idleTimeoutMs: this.idleTimeoutMs,
      });
      if (session)
        this.track(session, this.logged(session.done), { ...fields, transport: "websocket" });
      return;
    }
    if (!isUpgrade(req, "SPDY/3.1")) {
      rawResponse(socket, 400, "unable to upgrade: missing upgrade headers in request");
      return;
    }
    const supported = cached.kind === "portforward" ? [portForwardProtocol] : spdyCommandProtocols;
    const protocol = negotiate(headerValues(req, protocolHeader), supported);
    if (protocol === null) {
      const offered = headerValues(req, protocolHeader);
      rawResponse(
        socket,
        403,
        `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(" ")}], server accepts [${supported.join(" ")}]`,
        { [acceptedProtocolsHeader]: supported.join(", ") },
      );
      return;
    }
    const headers: Record<string, string> = { Connection: "Upgrade", Upgrade: "SPDY/3.1" };
    if (protocol) headers["X-Stream-Protocol-Version"] = protocol;
    switchingProtocols(socket, headers);
    if (head.length > 0) socket.unshift(head);
    const session = new SpdySession(socket, { server: true, idleTimeoutMs: this.idleTimeoutMs });
    const done =
      cached.kind === "portforward"
        ? serveSpdyPortForward(session, cached.request.podSandboxId, this.serve)
        : serveSpdyCommand(
            session,
            (protocol || Protocol.V1) as CommandProtocol,
            cached,
            this.serve,
          );
    this.track(session, this.logged(done), { ...fields, transport: "spdy", protocol });
  }

  private logged(done: Promise<void>): Promise<void> {
    return done.catch((err: unknown) => {
      this.serve.logger.error({ error: err }, "streaming session failed");
    });
  }
}
