// The event stream: envelopes from Events.Subscribe with the event decoded by
// its type URL.
import type { MessageShape } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import type { EventTopic, eventSchemas } from "@sandboxd/api";
import type { Envelope as WireEnvelope } from "@sandboxd/api/types/event_pb";
import { toDate } from "./convert.js";

/**
 * Every event message containerd and sandboxd publish (TaskExit, SandboxStart,
 * ContainerCreate, ...). Narrow with `$typeName`, e.g.
 * `event.$typeName === "containerd.events.TaskExit"`.
 */
export type EventMessage = MessageShape<(typeof eventSchemas)[EventTopic]>;

let typeNames: Set<string> | undefined;

/** One event. */
export interface Envelope {
  /** When the daemon (or the shim) published it. */
  timestamp: Date | undefined;
  /** The namespace it belongs to. */
  namespace: string;
  /** e.g. `/tasks/exit`. */
  topic: string;
  /** The decoded event; undefined for a type this SDK does not know (see `payload`). */
  event: EventMessage | undefined;
  /** The event as sent. */
  payload: Any | undefined;
}

/**
 * Decodes a wire envelope. Never throws: an undecodable event is left as
 * `payload`. Async: the API registry is loaded on first use, not with the SDK.
 */
export async function decodeEnvelope(envelope: WireEnvelope): Promise<Envelope> {
  const { eventSchemas, unpack } = await import("@sandboxd/api");
  const eventTypeNames = (typeNames ??= new Set(
    Object.values(eventSchemas).map((s) => s.typeName),
  ));
  let event: EventMessage | undefined;
  if (envelope.event) {
    try {
      const message = unpack(envelope.event);
      if (message && eventTypeNames.has(message.$typeName)) event = message as EventMessage;
    } catch {
      event = undefined;
    }
  }
  return {
    timestamp: toDate(envelope.timestamp),
    namespace: envelope.namespace,
    topic: envelope.topic,
    event,
    payload: envelope.event,
  };
}
