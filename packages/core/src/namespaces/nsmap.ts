/**
 * Objects kept per namespace and id (containerd's core/runtime/nsmap.go), so
 * no caller joins `${ns}/${id}` keys by hand. Iteration is in insertion order.
 */
import { alreadyExists, notFound } from "@sandboxd/errdefs";

/**
 * One string for a namespaced object, for the places a flat key is needed (a
 * lock name, an LRU); `/` cannot occur in a namespace or an id.
 */
export function namespacedKey(namespace: string, id: string): string {
  return `${namespace}/${id}`;
}

export class NamespacedMap<T> {
  readonly #byNamespace = new Map<string, Map<string, T>>();

  get(namespace: string, id: string): T | undefined {
    return this.#byNamespace.get(namespace)?.get(id);
  }

  /** The object, or NotFound naming `what` and the id. */
  getOrThrow(namespace: string, id: string, what: string): T {
    const value = this.get(namespace, id);
    if (value === undefined) throw notFound(`${what} ${JSON.stringify(id)}`);
    return value;
  }

  has(namespace: string, id: string): boolean {
    return this.#byNamespace.get(namespace)?.has(id) ?? false;
  }

  set(namespace: string, id: string, value: T): this {
    let ids = this.#byNamespace.get(namespace);
    if (!ids) this.#byNamespace.set(namespace, (ids = new Map<string, T>()));
    ids.set(id, value);
    return this;
  }

  /** Sets a new entry; AlreadyExists naming `what` and the id when there is one. */
  add(namespace: string, id: string, value: T, what: string): void {
    if (this.has(namespace, id)) throw alreadyExists(`${what} ${JSON.stringify(id)}`);
    this.set(namespace, id, value);
  }

  delete(namespace: string, id: string): boolean {
    const ids = this.#byNamespace.get(namespace);
    if (!ids?.delete(id)) return false;
    if (ids.size === 0) this.#byNamespace.delete(namespace);
    return true;
  }

  /** The objects of one namespace. */
  list(namespace: string): T[] {
    return [...(this.#byNamespace.get(namespace)?.values() ?? [])];
  }

  /** Every object with its namespace and id. */
  *entries(): IterableIterator<[namespace: string, id: string, value: T]> {
    for (const [namespace, ids] of this.#byNamespace) {
      for (const [id, value] of ids) yield [namespace, id, value];
    }
  }

  *values(): IterableIterator<T> {
    for (const ids of this.#byNamespace.values()) yield* ids.values();
  }

  get size(): number {
    let n = 0;
    for (const ids of this.#byNamespace.values()) n += ids.size;
    return n;
  }

  clear(): void {
    this.#byNamespace.clear();
  }
}
