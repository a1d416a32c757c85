/**
 * Filter fields of an envelope (containerd events.Envelope.Field): `namespace`,
 * `topic`, and `event.<field>` read from the decoded event by proto field name
 * (`event.container_id`, `event.labels.KEY`). The event is decoded at most
 * once, and only when a filter asks for one of its fields.
 */
import type { DescMessage, Message } from "@bufbuild/protobuf";
import type { Adaptor } from "@sandboxd/core";
import { registry, unpack } from "@sandboxd/api";
import type { Envelope } from "@sandboxd/api/types/event_pb";

export function envelopeAdaptor(envelope: Envelope): Adaptor {
  let decoded: Message | null | undefined;
  return (path) => {
    const head = path[0] ?? "";
    switch (head) {
      case "namespace":
        return path.length === 1 && envelope.namespace !== "" ? envelope.namespace : undefined;
      case "topic":
        return path.length === 1 && envelope.topic !== "" ? envelope.topic : undefined;
      case "event": {
        if (decoded === undefined) {
          try {
            decoded = envelope.event ? (unpack(envelope.event) ?? null) : null;
          } catch {
            decoded = null;
          }
        }
        if (decoded === null || path.length < 2) return undefined;
        return fieldOf(decoded, path.slice(1));
      }
      default:
        return undefined;
    }
  };
}

function fieldOf(message: Message, path: readonly string[]): string | undefined {
  const schema = registry.getMessage(message.$typeName);
  if (!schema) return undefined;
  return lookup(schema, message, path);
}

function lookup(
  schema: DescMessage,
  message: Record<string, unknown>,
  path: readonly string[],
): string | undefined {
  const [name, ...rest] = path;
  const field = schema.fields.find((f) => f.name === name);
  if (!field) return undefined;
  const value = message[field.localName];
  switch (field.fieldKind) {
    case "scalar":
    case "enum":
      if (rest.length > 0) return undefined;
      if (typeof value === "string") return value === "" ? undefined : value;
      if (typeof value === "boolean") return String(value);
      if (typeof value === "number" || typeof value === "bigint") return String(value);
      return undefined;
    case "map": {
      if (rest.length === 0 || typeof value !== "object" || value === null) return undefined;
      const key = rest.join(".");
      const v = (value as Record<string, unknown>)[key];
      return typeof v === "string" ? v : undefined;
    }
    case "message":
      if (rest.length === 0 || typeof value !== "object" || value === null) return undefined;
      return lookup(field.message, value as Record<string, unknown>, rest);
    case "list":
      return undefined;
  }
}
