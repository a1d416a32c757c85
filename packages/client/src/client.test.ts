// What the client does with no daemon at all. Everything that needs one runs
// against a real sandboxd in test/src/client/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { isInvalidArgument, isUnavailable } from "@sandboxd/errdefs";
import { Client } from "./client.js";

test("a daemon that is not there is Unavailable and names the address", async () => {
  const client = await Client.connect({ address: "/nonexistent/sandboxd.sock" });
  await assert.rejects(client.version(), (err) => {
    assert.ok(isUnavailable(err));
    assert.match(err instanceof Error ? err.message : String(err), /\/nonexistent\/sandboxd\.sock/);
    return true;
  });
  client.close();
});

test("a namespace view with an invalid name is refused before any call", async () => {
  const client = await Client.connect({ address: "/nonexistent/sandboxd.sock" });
  assert.throws(() => client.withNamespace("bad name"), isInvalidArgument);
  assert.equal(client.withNamespace("other").namespace, "other");
  client.close();
});
