// The distribution client against a real docker-registry on loopback: resolve, manifests,
// auth (Basic, Bearer), platform selection, and blob copies with bounded retries and Range
// resume through a fault proxy the test controls.
import assert from "node:assert/strict";
import { test } from "node:test";
import { background, type Ctx } from "@sandboxd/core";
import {
  isDataLoss,
  isNotFound,
  isUnauthenticated,
  isUnavailable,
  kindOf,
} from "@sandboxd/errdefs";
import {
  BlobFetcher,
  RegistryClient,
  defaultPlatform,
  parseReference,
  selectManifest,
  type BlobProgress,
  type Index,
} from "@sandboxd/images";
import {
  buildImage,
  buildIndex,
  busyboxEntries,
  multiLayerSpec,
  pushImage,
  pushIndex,
  startFaultProxy,
  startRegistry,
  type BuiltImage,
} from "@sandboxd/testing";
import { openStore } from "./pull-store.js";

const ctx: Ctx = { ...background(), namespace: "default" };

type Descriptor = { mediaType: string; digest: string; size: number };

function desc(b: Descriptor): Descriptor {
  return { mediaType: b.mediaType, digest: b.digest, size: b.size };
}

function bigImage(): BuiltImage {
  return buildImage({ layers: [{ entries: busyboxEntries(), compression: "none" }] });
}

test("resolves OCI, Docker schema2 and index tags; picks the host platform; by-digest refs", async (t) => {
  const reg = await startRegistry(t);
  const oci = buildImage(multiLayerSpec("oci"));
  const docker = buildImage(multiLayerSpec("docker"));
  const arm = buildImage({
    platform: { os: "linux", architecture: "arm64" },
    layers: [{ entries: [{ name: "a", data: "arm" }] }],
  });
  const index = buildIndex([arm, oci]);
  await pushImage(reg, "library/app", "oci", oci);
  await pushImage(reg, "library/app", "docker", docker);
  await pushIndex(reg, "library/app", "multi", index);
  const client = new RegistryClient();
  for (const [tag, m] of [
    ["oci", oci.manifest],
    ["docker", docker.manifest],
    ["multi", index.index],
  ] as const) {
    const ref = parseReference(`${reg.host}/library/app:${tag}`);
    const resolved = await client.resolve(ctx, ref);
    assert.deepEqual(resolved.descriptor, desc(m), tag);
    assert.deepEqual(await client.fetchManifest(ctx, ref, resolved.descriptor), m.data);
  }
  const ref = parseReference(`${reg.host}/library/app:multi`);
  const chosen = selectManifest(
    JSON.parse(index.index.data.toString()) as Index,
    defaultPlatform(),
    "x",
  );
  assert.equal(chosen.digest, oci.manifest.digest);
  const byDigest = parseReference(`${reg.host}/library/app@${docker.manifest.digest}`);
  assert.equal((await client.resolve(ctx, byDigest)).descriptor.digest, docker.manifest.digest);
  await assert.rejects(
    client.resolve(ctx, { ...ref, tag: "nope" }),
    (e) => isNotFound(e) && /nope: not found/.test(String(e)),
  );
});

test("copies every blob with verified digests, at most 3 at a time, one download per shared blob", async (t) => {
  const reg = await startRegistry(t);
  const proxy = await startFaultProxy(t, reg.host);
  const layers = Array.from({ length: 6 }, (_, i) => ({
    entries: [{ name: `f${i}`, data: Buffer.alloc(300_000, i) }],
    compression: "none" as const,
  }));
  const image = buildImage({ layers });
  await pushImage(reg, "library/six", "v1", image);
  const client = new RegistryClient();
  const fetcher = new BlobFetcher();
  const ts = await openStore(t, ctx);
  const store = ts.store;
  const ref = parseReference(`${proxy.host}/library/six:v1`);
  const active = new Set<string>();
  let peak = 0;
  const onProgress = (p: BlobProgress): void => {
    if (p.state === "downloading") active.add(p.digest);
    if (p.state === "done" || p.state === "exists") active.delete(p.digest);
    peak = Math.max(peak, active.size);
  };
  const shared = image.layers[0];
  assert.ok(shared);
  const results = await Promise.all([
    ...image.layers.map((l) => fetcher.fetch(ctx, client, store, ref, desc(l), onProgress)),
    fetcher.fetch(ctx, client, store, ref, desc(shared)),
  ]);
  assert.deepEqual(results, Array(7).fill("fetched"));
  assert.ok(peak <= 3, `peak concurrency ${peak}`);
  for (const l of image.layers) assert.deepEqual(await ts.data(l.digest), l.data);
  const gets = proxy.requests.filter((r) => r.path.endsWith(`/blobs/${shared.digest}`));
  assert.equal(gets.length, 1, "the shared blob was downloaded once");
  assert.equal(await fetcher.fetch(ctx, client, store, ref, desc(shared)), "exists");
});

test("Basic auth: credentials from the provider; none gives Unauthenticated naming the host", async (t) => {
  const reg = await startRegistry(t, { auth: "basic" });
  const image = buildImage({ layers: [{ entries: busyboxEntries() }] });
  await pushImage(reg, "private/app", "v1", image);
  const ref = parseReference(`${reg.host}/private/app:v1`);
  const anonymous = new RegistryClient();
  await assert.rejects(
    anonymous.resolve(ctx, ref),
    (e) => isUnauthenticated(e) && String(e).includes(reg.host),
  );
  const client = new RegistryClient({
    credentials: () => ({ username: reg.username, password: reg.password }),
  });
  const resolved = await client.resolve(ctx, ref);
  const ts = await openStore(t, ctx);
  const store = ts.store;
  await new BlobFetcher().fetch(ctx, client, store, ref, desc(image.layers[0] ?? image.config));
  assert.equal(resolved.descriptor.digest, image.manifest.digest);
  const wrong = new RegistryClient({
    credentials: () => ({ username: reg.username, password: "nope" }),
  });
  await assert.rejects(wrong.resolve(ctx, ref), isUnauthenticated);
});

test("Bearer token auth: one token per scope for many requests; bad credentials are refused", async (t) => {
  const reg = await startRegistry(t, { auth: "token" });
  const image = buildImage(multiLayerSpec("oci"));
  await pushImage(reg, "private/app", "v1", image);
  const ref = parseReference(`${reg.host}/private/app:v1`);
  const before = reg.tokenRequests();
  const client = new RegistryClient({
    credentials: () => ({ username: reg.username, password: reg.password }),
  });
  const resolved = await client.resolve(ctx, ref);
  await client.fetchManifest(ctx, ref, resolved.descriptor);
  const ts = await openStore(t, ctx);
  const store = ts.store;
  const fetcher = new BlobFetcher();
  await Promise.all(
    [...image.layers, image.config].map((b) => fetcher.fetch(ctx, client, store, ref, desc(b))),
  );
  assert.equal(await ts.count(), 3);
  assert.equal(reg.tokenRequests() - before, 1, "one token for the repository's pull scope");
  const anonymous = new RegistryClient();
  await assert.rejects(
    anonymous.resolve(ctx, ref),
    (e) => isUnauthenticated(e) && /pull access denied/.test(String(e)),
  );
  const wrong = new RegistryClient({
    credentials: () => ({ username: reg.username, password: "bad" }),
  });
  await assert.rejects(
    wrong.resolve(ctx, ref),
    (e) => isUnauthenticated(e) && /refused/.test(String(e)),
  );
});

test("a registry answering 500 is retried boundedly, then succeeds or fails with Unavailable", async (t) => {
  const reg = await startRegistry(t);
  const proxy = await startFaultProxy(t, reg.host);
  const image = bigImage();
  await pushImage(reg, "library/flaky", "v1", image);
  const layer = image.layers[0];
  assert.ok(layer);
  const client = new RegistryClient({ backoffMs: 20 });
  const ref = parseReference(`${proxy.host}/library/flaky:v1`);
  let failures = 2;
  proxy.plan = (r) =>
    r.path.includes("/blobs/") && failures-- > 0
      ? { kind: "status", status: 500 }
      : { kind: "pass" };
  const ts = await openStore(t, ctx);
  const store = ts.store;
  assert.equal(await new BlobFetcher().fetch(ctx, client, store, ref, desc(layer)), "fetched");
  assert.equal(proxy.requests.filter((r) => r.path.includes("/blobs/")).length, 3);
  proxy.plan = () => ({ kind: "status", status: 503 });
  const ts2 = await openStore(t, ctx);
  const store2 = ts2.store;
  await assert.rejects(new BlobFetcher().fetch(ctx, client, store2, ref, desc(layer)), (e) => {
    assert.ok(isUnavailable(e), String(e));
    assert.match(String(e), /HTTP 503 \(after 4 attempts\)/);
    return true;
  });
  assert.equal(await ts2.count(), 0);
});

test("a connection dropped mid-blob resumes with Range from the bytes already written", async (t) => {
  const reg = await startRegistry(t);
  const proxy = await startFaultProxy(t, reg.host);
  const image = bigImage();
  await pushImage(reg, "library/drop", "v1", image);
  const layer = image.layers[0];
  assert.ok(layer && layer.size > 1_000_000);
  let dropped = false;
  proxy.plan = (r) => {
    if (!r.path.includes("/blobs/") || dropped) return { kind: "pass" };
    dropped = true;
    return { kind: "drop-after", bytes: 500_000 };
  };
  const ts = await openStore(t, ctx);
  const store = ts.store;
  const client = new RegistryClient({ backoffMs: 20 });
  const ref = parseReference(`${proxy.host}/library/drop:v1`);
  assert.equal(await new BlobFetcher().fetch(ctx, client, store, ref, desc(layer)), "fetched");
  const ranges = proxy.requests.filter((r) => r.path.includes("/blobs/")).map((r) => r.range);
  assert.equal(ranges.length, 2);
  assert.equal(ranges[0], undefined);
  const resumedAt = Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? "")?.[1]);
  assert.ok(resumedAt > 0 && resumedAt <= 500_000, `resumed at ${ranges[1]}`);
  assert.deepEqual(await ts.data(layer.digest), layer.data);
});

test("a body that stalls is abandoned after the idle deadline and resumed", async (t) => {
  const reg = await startRegistry(t);
  const proxy = await startFaultProxy(t, reg.host);
  const image = bigImage();
  await pushImage(reg, "library/stall", "v1", image);
  const layer = image.layers[0];
  assert.ok(layer);
  let stalled = false;
  proxy.plan = (r) => {
    if (!r.path.includes("/blobs/") || stalled) return { kind: "pass" };
    stalled = true;
    return { kind: "stall-after", bytes: 65_536 };
  };
  const ts = await openStore(t, ctx);
  const store = ts.store;
  const client = new RegistryClient({ backoffMs: 20, idleTimeoutMs: 300 });
  const ref = parseReference(`${proxy.host}/library/stall:v1`);
  const events: BlobProgress[] = [];
  assert.equal(
    await new BlobFetcher().fetch(ctx, client, store, ref, desc(layer), (p) => events.push(p)),
    "fetched",
  );
  const retry = events.find((e) => e.state === "retrying" && e.error);
  assert.match(retry?.error ?? "", /stalled for 300 ms/);
  assert.equal(proxy.requests.filter((r) => r.path.includes("/blobs/"))[1]?.range, "bytes=65536-");
  // A registry that never answers: bounded, Unavailable.
  proxy.plan = () => ({ kind: "stall" });
  const quick = new RegistryClient({ backoffMs: 10, idleTimeoutMs: 200, attempts: 2 });
  await assert.rejects(
    quick.resolve(ctx, ref),
    (e) => isUnavailable(e) && /no answer within 200 ms/.test(String(e)),
  );
});

test("a lying size or a corrupted blob commits nothing and says what was wrong", async (t) => {
  const reg = await startRegistry(t);
  const proxy = await startFaultProxy(t, reg.host);
  const image = bigImage();
  await pushImage(reg, "library/liar", "v1", image);
  const layer = image.layers[0];
  assert.ok(layer);
  const client = new RegistryClient({ backoffMs: 10 });
  const ref = parseReference(`${proxy.host}/library/liar:v1`);
  const ts = await openStore(t, ctx);
  const store = ts.store;
  const short = { ...desc(layer), size: layer.size - 100 };
  await assert.rejects(new BlobFetcher().fetch(ctx, client, store, ref, short), (e) => {
    assert.ok(isDataLoss(e), `${kindOf(e)}: ${String(e)}`);
    assert.match(String(e), /more than the \d+ bytes the manifest declares/);
    return true;
  });
  proxy.plan = (r) => (r.path.includes("/blobs/") ? { kind: "corrupt" } : { kind: "pass" });
  await assert.rejects(new BlobFetcher().fetch(ctx, client, store, ref, desc(layer)), /digest/);
  assert.equal(await ts.count(), 0);
  assert.equal(await ts.ingests(), 0, "the bad ingests were aborted");
  const manifest = { ...desc(image.manifest), size: image.manifest.size + 1 };
  proxy.plan = () => ({ kind: "pass" });
  await assert.rejects(
    client.fetchManifest(ctx, ref, manifest),
    (e) => isDataLoss(e) && /descriptor says/.test(String(e)),
  );
});

test("a pull that gives up keeps its ingest; the next pull resumes it with Range", async (t) => {
  const reg = await startRegistry(t);
  const proxy = await startFaultProxy(t, reg.host);
  const image = bigImage();
  await pushImage(reg, "library/resume", "v1", image);
  const layer = image.layers[0];
  assert.ok(layer);
  const ts = await openStore(t, ctx);
  const ref = parseReference(`${proxy.host}/library/resume:v1`);
  proxy.plan = (r) =>
    r.path.includes("/blobs/") ? { kind: "drop-after", bytes: 400_000 } : { kind: "pass" };
  const once = new RegistryClient({ attempts: 1 });
  await assert.rejects(new BlobFetcher().fetch(ctx, once, ts.store, ref, desc(layer)), (e) => {
    assert.ok(isUnavailable(e), String(e));
    assert.match(String(e), /attempt 1/);
    return true;
  });
  assert.equal(await ts.count(), 0, "nothing visible");
  assert.equal(await ts.ingests(), 1, "the partial download is kept for a resume");
  proxy.plan = () => ({ kind: "pass" });
  proxy.requests.length = 0;
  assert.equal(await new BlobFetcher().fetch(ctx, once, ts.store, ref, desc(layer)), "fetched");
  assert.match(proxy.requests[0]?.range ?? "", /^bytes=[1-9]\d*-$/);
  assert.deepEqual(await ts.data(layer.digest), layer.data);
  assert.equal(await ts.ingests(), 0);
});
