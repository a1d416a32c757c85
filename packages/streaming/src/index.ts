export { StreamingServer, type StreamingServerOptions } from "./server.js";
export type {
  AttachRequest,
  ExecRequest,
  PortForwardRequest,
  Runtime,
  StreamIO,
  TerminalSize,
} from "./runtime.js";
export {
  Protocol,
  StreamType,
  portForwardProtocol,
  type Status,
} from "./protocol/remotecommand.js";
export { SpdySession, SpdyStream } from "./spdy/session.js";
export { spdyConnect } from "./client/spdy.js";
