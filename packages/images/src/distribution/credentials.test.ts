import assert from "node:assert/strict";
import { test } from "node:test";
import { isInvalidArgument } from "@sandboxd/errdefs";
import {
  chainCredentials,
  credentialsKey,
  parseDockerConfig,
  staticCredentials,
} from "./credentials.js";

test("Docker config.json auths: base64 auth, identity tokens, Docker Hub aliases", async () => {
  const parsed = parseDockerConfig(
    JSON.stringify({
      auths: {
        "https://index.docker.io/v1/": { auth: Buffer.from("hubuser:p:w").toString("base64") },
        "127.0.0.1:5000": { username: "u", password: "p" },
        "ghcr.io": { identitytoken: "refresh-me" },
      },
    }),
  );
  const creds = staticCredentials(parsed);
  assert.deepEqual(await creds("registry-1.docker.io"), { username: "hubuser", password: "p:w" });
  assert.deepEqual(await creds("127.0.0.1:5000"), { username: "u", password: "p" });
  assert.deepEqual(await creds("ghcr.io"), { identityToken: "refresh-me" });
  assert.equal(await creds("quay.io"), undefined);
  assert.equal(credentialsKey("http://Example.com:5000/v2/"), "example.com:5000");
  assert.throws(() => parseDockerConfig("{"), isInvalidArgument);
  assert.throws(
    () => parseDockerConfig('{"auths":{"x":{"auth":"bm9jb2xvbg=="}}}'),
    isInvalidArgument,
  );
  const chained = chainCredentials(undefined, staticCredentials({}), creds);
  assert.deepEqual(await chained("127.0.0.1:5000"), { username: "u", password: "p" });
});
