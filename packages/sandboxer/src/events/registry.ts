/**
 * Which events endpoints get which namespace's events: the address each
 * namespace registered (containerd's TTRPC_ADDRESS, given by the shim at
 * `start`; persisted so a restarted sandboxer keeps forwarding), plus the
 * configured `events_address`, which gets everything.
 */
import { readdir } from "node:fs/promises";
import type { EventsRegistration } from "../state/records.js";
import { ensureDir, readJson, writeJsonAtomic } from "../state/atomic.js";
import type { Layout } from "../state/layout.js";

export class EventsRegistry {
  readonly #layout: Layout;
  readonly #global: string;
  readonly #byNamespace = new Map<string, string>();

  constructor(layout: Layout, globalAddress: string) {
    this.#layout = layout;
    this.#global = globalAddress;
  }

  async load(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.#layout.eventsDir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.endsWith(".json")) continue;
      const reg = await readJson<EventsRegistration>(`${this.#layout.eventsDir}/${name}`).catch(
        () => undefined,
      );
      if (reg?.namespace && reg.ttrpcAddress)
        this.#byNamespace.set(reg.namespace, reg.ttrpcAddress);
    }
  }

  async register(namespace: string, ttrpcAddress: string): Promise<void> {
    if (this.#byNamespace.get(namespace) === ttrpcAddress) return;
    await ensureDir(this.#layout.eventsDir);
    const reg: EventsRegistration = { namespace, ttrpcAddress, registeredAt: Date.now() };
    await writeJsonAtomic(this.#layout.eventsFile(namespace), reg);
    this.#byNamespace.set(namespace, ttrpcAddress);
  }

  targets(namespace: string): string[] {
    const out: string[] = [];
    const own = this.#byNamespace.get(namespace);
    if (own) out.push(own);
    if (this.#global && this.#global !== own) out.push(this.#global);
    return out;
  }
}
