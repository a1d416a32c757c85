/**
 * Call metadata: string keys with one or more string values, sent in `Request.metadata`
 * as one KeyValue per value. Keys are lower-cased on the way in and out, because Go's
 * `MD.Get` looks up the lower-cased key but stores received keys verbatim: a Go server
 * would not find `Containerd-Namespace-Ttrpc`.
 */
import type { KeyValue } from "./messages.js";

/** Anything a {@link Metadata} can be built from. */
export type MetadataInit =
  | Metadata
  | Readonly<Record<string, string | readonly string[]>>
  | Iterable<readonly [string, string]>;

export class Metadata implements Iterable<[string, string]> {
  readonly #map = new Map<string, string[]>();

  constructor(init?: MetadataInit) {
    if (init === undefined) return;
    if (isIterable(init)) {
      for (const [key, value] of init) this.append(key, value);
      return;
    }
    for (const [key, value] of Object.entries(init)) {
      if (typeof value === "string") this.append(key, value);
      else this.append(key, ...value);
    }
  }

  /** The first value of `key`, like Go's `GetMetadataValue`. */
  get(key: string): string | undefined {
    return this.#map.get(key.toLowerCase())?.[0];
  }

  getAll(key: string): string[] {
    return [...(this.#map.get(key.toLowerCase()) ?? [])];
  }

  has(key: string): boolean {
    return this.#map.has(key.toLowerCase());
  }

  /** Replaces the values of `key`; with no values, removes it. */
  set(key: string, ...values: string[]): this {
    if (values.length === 0) this.#map.delete(key.toLowerCase());
    else this.#map.set(key.toLowerCase(), [...values]);
    return this;
  }

  append(key: string, ...values: string[]): this {
    if (values.length === 0) return this;
    const k = key.toLowerCase();
    const current = this.#map.get(k);
    if (current === undefined) this.#map.set(k, [...values]);
    else current.push(...values);
    return this;
  }

  delete(key: string): boolean {
    return this.#map.delete(key.toLowerCase());
  }

  /** Number of distinct keys. */
  get size(): number {
    return this.#map.size;
  }

  keys(): IterableIterator<string> {
    return this.#map.keys();
  }

  /** Every (key, value) pair, one per value. */
  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (const [key, values] of this.#map) for (const value of values) yield [key, value];
  }

  toJSON(): Record<string, string[]> {
    return Object.fromEntries([...this.#map].map(([k, v]) => [k, [...v]]));
  }
}

function isIterable(v: object): v is Iterable<readonly [string, string]> {
  return typeof (v as Partial<Iterable<unknown>>)[Symbol.iterator] === "function";
}

export function metadataToKeyValues(init: MetadataInit | undefined): KeyValue[] {
  if (init === undefined) return [];
  const md = init instanceof Metadata ? init : new Metadata(init);
  return [...md].map(([key, value]) => ({ key, value }));
}

export function metadataFromKeyValues(kvs: readonly KeyValue[]): Metadata {
  const md = new Metadata();
  for (const kv of kvs) md.append(kv.key, kv.value);
  return md;
}
