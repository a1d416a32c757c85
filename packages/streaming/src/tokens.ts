/**
 * Single-use, expiring tokens for streaming URLs (kubelet's request cache): a token names one
 * cached request, is consumed by the first connection that presents it, and is worthless after
 * its TTL. Expiry is checked lazily, so no timers are left behind; the cache is bounded and
 * refuses new requests (ResourceExhausted) while full of live ones.
 */
import { randomBytes } from "node:crypto";
import { resourceExhausted } from "@sandboxd/errdefs";

interface Entry<T> {
  value: T;
  expiresAt: number;
}

export class TokenCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly ttlMs: number;
  private readonly maxInFlight: number;
  private readonly now: () => number;

  constructor(ttlMs: number, maxInFlight: number, now: () => number = Date.now) {
    this.ttlMs = ttlMs;
    this.maxInFlight = maxInFlight;
    this.now = now;
  }

  get size(): number {
    return this.entries.size;
  }

  insert(value: T): string {
    this.evictExpired();
    if (this.entries.size >= this.maxInFlight) {
      throw resourceExhausted("maximum number of in-flight streaming requests exceeded");
    }
    let token: string;
    do token = randomBytes(12).toString("base64url");
    while (this.entries.has(token));
    this.entries.set(token, { value, expiresAt: this.now() + this.ttlMs });
    return token;
  }

  /** The request behind `token`, once: a second call, or one after expiry, gets null. */
  consume(token: string): T | null {
    const entry = this.entries.get(token);
    if (!entry) return null;
    this.entries.delete(token);
    return this.now() < entry.expiresAt ? entry.value : null;
  }

  private evictExpired(): void {
    const now = this.now();
    // Map keeps insertion order, which is expiry order: stop at the first live entry.
    for (const [token, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.entries.delete(token);
    }
  }
}
