// hosts.toml mirrors against real registries: upstream names (registry.k8s.io/...) served
// from a local mirror, hosts tried in order with fallback, capabilities respected.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { background, type Ctx } from "@sandboxd/core";
import { BlobFetcher, RegistryClient, configureHosts, parseReference } from "@sandboxd/images";
import {
  buildImage,
  busyboxEntries,
  pushImage,
  startFaultProxy,
  startRegistry,
  tempDir,
} from "@sandboxd/testing";
import { openStore } from "./pull-store.js";

const ctx: Ctx = { ...background(), namespace: "default" };

test("registry.k8s.io/pause:3.10 is served by the local mirror hosts.toml names", async (t) => {
  const reg = await startRegistry(t);
  const proxy = await startFaultProxy(t, reg.host);
  const image = buildImage({
    layers: [{ entries: busyboxEntries() }],
    config: { Entrypoint: ["/bin/sh"] },
  });
  await pushImage(reg, "pause", "3.10", image);
  const config = await tempDir(t, "sbx-certs-");
  await mkdir(join(config, "registry.k8s.io"));
  await writeFile(
    join(config, "registry.k8s.io", "hosts.toml"),
    `server = "https://registry.k8s.io"\n\n[host."http://${proxy.host}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
  const client = new RegistryClient({ hosts: configureHosts(config) });
  const ref = parseReference("registry.k8s.io/pause:3.10");
  const resolved = await client.resolve(ctx, ref);
  assert.equal(resolved.name, "registry.k8s.io/pause:3.10");
  assert.equal(resolved.descriptor.digest, image.manifest.digest);
  const ts = await openStore(t, ctx);
  const store = ts.store;
  await new BlobFetcher().fetch(ctx, client, store, ref, {
    mediaType: image.config.mediaType,
    digest: image.config.digest,
    size: image.config.size,
  });
  assert.ok((await ts.data(image.config.digest)) !== undefined);
  assert.deepEqual(
    proxy.requests.map((r) => `${r.method} ${r.path}`),
    [
      "HEAD /v2/pause/manifests/3.10?ns=registry.k8s.io",
      `GET /v2/pause/blobs/${image.config.digest}?ns=registry.k8s.io`,
    ],
  );
});

test("hosts are tried in order: a mirror without the image falls through; pull-only hosts never resolve", async (t) => {
  const empty = await startRegistry(t);
  const full = await startRegistry(t);
  const pullOnly = await startFaultProxy(t, full.host);
  const image = buildImage({ layers: [{ entries: [{ name: "x", data: "x" }] }] });
  await pushImage(full, "e2e-test-images/busybox", "1.29-2", image);
  const config = await tempDir(t, "sbx-certs-");
  await mkdir(join(config, "_default"));
  await writeFile(
    join(config, "_default", "hosts.toml"),
    [
      `server = "http://${full.host}"`,
      `[host."http://${pullOnly.host}"]`,
      `  capabilities = ["pull"]`,
      `[host."http://${empty.host}"]`,
      `  capabilities = ["pull", "resolve"]`,
    ].join("\n"),
  );
  const client = new RegistryClient({ hosts: configureHosts(config) });
  const ref = parseReference("registry.k8s.io/e2e-test-images/busybox:1.29-2");
  const resolved = await client.resolve(ctx, ref);
  assert.equal(resolved.descriptor.digest, image.manifest.digest);
  assert.equal(pullOnly.requests.length, 0, "a pull-only host is not asked to resolve");
  const manifest = await client.fetchManifest(ctx, ref, resolved.descriptor);
  assert.deepEqual(manifest, image.manifest.data);
  assert.equal(pullOnly.requests.length, 1, "the pull-only mirror serves the fetch first");
});

test("an HTTPS registry: trusted through hosts.toml ca, or skip_verify; refused otherwise", async (t) => {
  const reg = await startRegistry(t, { tls: true });
  assert.ok(reg.ca && reg.url.startsWith("https://"));
  const image = buildImage({ layers: [{ entries: [{ name: "tls", data: "yes" }] }] });
  await pushImage(reg, "secure/app", "v1", image);
  const ref = parseReference(`${reg.host}/secure/app:v1`);
  const config = await tempDir(t, "sbx-certs-");
  const dir = join(config, reg.host);
  await mkdir(dir);
  await writeFile(join(dir, "registry-ca.pem"), reg.ca);
  const write = (extra: string) =>
    writeFile(join(dir, "hosts.toml"), `server = "https://${reg.host}"\n${extra}\n`);

  await write('ca = "registry-ca.pem"');
  const client = new RegistryClient({ hosts: configureHosts(config) });
  assert.equal((await client.resolve(ctx, ref)).descriptor.digest, image.manifest.digest);

  await write("");
  await assert.rejects(client.resolve(ctx, ref), (e) => /self-signed certificate/.test(String(e)));

  await write("skip_verify = true");
  assert.equal((await client.resolve(ctx, ref)).descriptor.digest, image.manifest.digest);
});
