/**
 * @sandboxd/ttrpc: containerd's ttrpc protocol (gRPC semantics over a small framing
 * layer, no HTTP/2) for Node. Wire-compatible with github.com/containerd/ttrpc; see
 * PROTOCOL.md in this package.
 */

// Relevant to most users.
export { Client, connect } from "./client.js";
export type { CallOptions, ConnectOptions } from "./client.js";
export type { BidiStream, ClientStream, ServerStream } from "./client-stream.js";
export { createClient } from "./typed-client.js";
export type { TypedClient, TypedClientOptions, TypedMethod } from "./typed-client.js";
export { Server } from "./server.js";
export type { ServerOptions, ShutdownOptions } from "./server.js";
export type {
  BidiStreamingHandler,
  ClientStreamingHandler,
  HandlerContext,
  MethodImpl,
  MethodKind,
  RawMethod,
  ServerStreamingHandler,
  ServiceImpl,
  Streamable,
  UnaryHandler,
} from "./services.js";
export { Code, codeName, isCode } from "./code.js";
export {
  TtrpcError,
  canceledError,
  closedError,
  deadlineExceededError,
  defaultErrorToStatus,
  isClosedError,
  isTtrpcError,
} from "./errors.js";
export type { Status } from "./errors.js";
export { Metadata } from "./metadata.js";
export type { MetadataInit } from "./metadata.js";
export { DiagnosticsChannel } from "./diagnostics.js";
export type { ConnectionEvent, ErrorEvent, Side } from "./diagnostics.js";

// Protocol building blocks, for tools and tests that speak the wire format directly.
export {
  Flag,
  FrameParser,
  HEADER_LENGTH,
  MAX_PAYLOAD_LENGTH,
  MessageType,
  encodeFrame,
} from "./frame.js";
export type { Frame, FrameHeader, ParsedFrame } from "./frame.js";
export { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from "./messages.js";
export type { KeyValue, Request, Response } from "./messages.js";
