import { test } from "node:test";
import assert from "node:assert/strict";
import { isResourceExhausted } from "@sandboxd/errdefs";
import { TokenCache } from "./tokens.js";

test("a token is good once, and only until it expires", () => {
  let now = 1000;
  const cache = new TokenCache<string>(60_000, 10, () => now);
  const a = cache.insert("a");
  const b = cache.insert("b");
  assert.match(a, /^[A-Za-z0-9_-]{16}$/);
  assert.equal(cache.consume(a), "a");
  assert.equal(cache.consume(a), null);
  now += 60_000;
  assert.equal(cache.consume(b), null);
  assert.equal(cache.size, 0);
});

test("a full cache of live tokens refuses more; expired ones make room", () => {
  let now = 0;
  const cache = new TokenCache<number>(100, 2, () => now);
  cache.insert(1);
  cache.insert(2);
  assert.throws(
    () => cache.insert(3),
    (err) => isResourceExhausted(err),
  );
  now = 100;
  cache.insert(3);
  assert.equal(cache.size, 1);
});
