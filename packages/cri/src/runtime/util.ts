/** Small helpers shared by the CRI runtime service. */
import { randomBytes } from "node:crypto";
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type MessageShape,
} from "@bufbuild/protobuf";
import { type Any, AnySchema, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { isNotFound } from "@sandboxd/errdefs";

export const newId = (): string => randomBytes(32).toString("hex");

/** An Any with a bare type URL (containerd's typeurl form). */
export function anyOf<D extends DescMessage>(schema: D, value: MessageShape<D>): Any {
  return create(AnySchema, { typeUrl: schema.typeName, value: toBinary(schema, value) });
}

export function fromAny<D extends DescMessage>(
  schema: D,
  any: Any | undefined,
): MessageShape<D> | undefined {
  if (!any || !(any.typeUrl === schema.typeName || any.typeUrl.endsWith(`/${schema.typeName}`)))
    return undefined;
  return fromBinary(schema, any.value);
}

export function jsonAny(typeUrl: string, value: unknown): Any {
  return create(AnySchema, { typeUrl, value: Buffer.from(JSON.stringify(value)) });
}

export function fromJsonAny<T>(any: Any | undefined): T | undefined {
  if (!any) return undefined;
  return JSON.parse(Buffer.from(any.value).toString("utf8")) as T;
}

/** Nanoseconds since the epoch as CRI wants them (int64). */
export function nsOf(ms: number | undefined): bigint {
  return ms ? BigInt(Math.round(ms)) * 1_000_000n : 0n;
}

export function msOfTs(t: Timestamp | undefined): number {
  return t ? timestampMs(t) : 0;
}

/** Runs `fn`; NotFound counts as done (idempotent stop/remove). */
export async function ignoreNotFound<T>(fn: () => T | Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Whether every key/value of `selector` is in `labels`. */
export function matchLabels(
  labels: Record<string, string>,
  selector: Record<string, string>,
): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The one id `prefix` names among `ids` (CRI accepts unique id prefixes in filters). */
export function matchId(id: string, filter: string): boolean {
  return filter === "" || id === filter || id.startsWith(filter);
}
