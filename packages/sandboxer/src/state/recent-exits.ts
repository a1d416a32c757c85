/** Exits of tasks deleted recently, so the shim's `delete` after a normal teardown can report them. */
import type { ExitResult } from "../container/container.js";
import { namespacedKey as keyOf } from "@sandboxd/core";

export class RecentExits {
  readonly #entries = new Map<string, ExitResult>();
  readonly #max: number;

  constructor(max = 1024) {
    this.#max = max;
  }

  add(namespace: string, id: string, exit: ExitResult): void {
    const key = keyOf(namespace, id);
    this.#entries.delete(key);
    this.#entries.set(key, exit);
    if (this.#entries.size > this.#max)
      this.#entries.delete(this.#entries.keys().next().value as string);
  }

  get(namespace: string, id: string): ExitResult | undefined {
    return this.#entries.get(keyOf(namespace, id));
  }
}
