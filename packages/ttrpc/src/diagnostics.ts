/**
 * Observability without logging (the library never writes to stdout or stderr):
 * `node:diagnostics_channel` channels, free when nobody subscribes, and
 * `util.debuglog("ttrpc")` lines, printed when `NODE_DEBUG=ttrpc` is set.
 */
import diagnosticsChannel from "node:diagnostics_channel";
import { debuglog } from "node:util";

/** Names of the channels this library publishes on. */
export const DiagnosticsChannel = {
  /**
   * A connection opened or closed. Message: {@link ConnectionEvent}.
   */
  Connection: "sandboxd:ttrpc:connection",
  /**
   * A protocol violation or dropped frame on a connection (the peer's fault or a race with
   * cancellation), or a server call that failed. Message: {@link ErrorEvent}.
   */
  Error: "sandboxd:ttrpc:error",
} as const;

export type Side = "client" | "server";

export interface ConnectionEvent {
  readonly side: Side;
  readonly event: "open" | "close";
  /** Why the connection closed, when it was not a clean close. */
  readonly error?: unknown;
}

export interface ErrorEvent {
  readonly side: Side;
  readonly streamId?: number;
  readonly service?: string;
  readonly method?: string;
  readonly error: unknown;
}

const connection = diagnosticsChannel.channel(DiagnosticsChannel.Connection);
const error = diagnosticsChannel.channel(DiagnosticsChannel.Error);

export const debug = debuglog("ttrpc");

export function publishConnection(event: ConnectionEvent): void {
  if (connection.hasSubscribers) connection.publish(event);
  if (event.error === undefined) debug("%s connection %s", event.side, event.event);
  else debug("%s connection %s: %s", event.side, event.event, event.error);
}

export function publishError(event: ErrorEvent): void {
  if (error.hasSubscribers) error.publish(event);
  debug("%s stream %s: %s", event.side, event.streamId ?? "-", event.error);
}
