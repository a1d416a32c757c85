import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { rawResponse } from "../http.js";
import type { CommandTarget } from "../protocol/command.js";
import type { PortForwardRequest } from "../runtime.js";
import type { ServeOptions } from "../spdy/serve.js";

export function serveWebSocket(
  _req: IncomingMessage,
  socket: Duplex,
  _head: Buffer,
  _cached: CommandTarget | { kind: "portforward"; request: PortForwardRequest },
  _opts: ServeOptions & { idleTimeoutMs: number },
): { destroy(): void; done: Promise<void> } | null {
  rawResponse(socket, 400, "websocket streaming is not available yet");
  return null;
}
