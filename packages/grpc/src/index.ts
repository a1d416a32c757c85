export { Channel, type ChannelOptions } from "./client.js";
export { GrpcServer, maxMessageBytes, type GrpcServerOptions } from "./server.js";
export type { AnyService, CallOptions, Client, ServerCall, ServiceImpl } from "./types.js";
export { localClient } from "./local.js";
