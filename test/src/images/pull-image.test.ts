// Pull end to end into a content store: index → platform manifest → config + layers, GC and
// distribution-source labels, the image record, and the refusals that commit nothing.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { background, type Ctx } from "@sandboxd/core";
import { isInvalidArgument, isNotFound, isUnauthenticated } from "@sandboxd/errdefs";
import {
  BlobFetcher,
  PullService,
  storeRecords,
  Puller,
  RegistryClient,
  type PullEvent,
} from "@sandboxd/images";
import {
  blob,
  buildImage,
  buildIndex,
  busyboxEntries,
  mediaTypes,
  multiLayerSpec,
  pushBlob,
  pushImage,
  pushIndex,
  pushManifest,
  startFaultProxy,
  startRegistry,
  tempDir,
  type AfterHook,
} from "@sandboxd/testing";
import { openStore } from "./pull-store.js";

const ctx: Ctx = { ...background(), namespace: "default" };

async function puller(t: AfterHook) {
  const ts = await openStore(t, ctx);
  const images = storeRecords(ts.imageStore);
  const client = new RegistryClient({ backoffMs: 10 });
  return {
    ts,
    puller: new Puller({ client, fetcher: new BlobFetcher(), store: ts.store, images }),
  };
}

test("pulls a multi-platform index: host manifest, config, layers, labels and the record", async (t) => {
  const reg = await startRegistry(t);
  const host = buildImage(multiLayerSpec("oci"));
  const arm = buildImage({
    platform: { os: "linux", architecture: "arm64" },
    layers: [{ entries: [{ name: "arm", data: "arm" }] }],
  });
  const index = buildIndex([arm, host]);
  const name = await pushIndex(reg, "library/busybox", "latest", index);
  const { ts, puller: p } = await puller(t);
  const events: PullEvent[] = [];
  const pulled = await p.pull(ctx, name, { onProgress: (e) => events.push(e) });
  assert.equal(pulled.name, `${reg.host}/library/busybox:latest`);
  assert.equal(pulled.target.digest, index.index.digest);
  assert.equal(pulled.manifest.digest, host.manifest.digest);
  assert.deepEqual(pulled.imageConfig.config?.Cmd, ["/bin/sh"]);
  const source = { [`containerd.io/distribution.source.${reg.host}`]: "library/busybox" };
  assert.deepEqual(await ts.labels(index.index.digest), {
    ...source,
    "containerd.io/gc.ref.content.m.0": host.manifest.digest,
  });
  assert.deepEqual(await ts.labels(host.manifest.digest), {
    ...source,
    "containerd.io/gc.ref.content.config": host.config.digest,
    "containerd.io/gc.ref.content.l.0": host.layers[0]?.digest,
    "containerd.io/gc.ref.content.l.1": host.layers[1]?.digest,
  });
  for (const l of host.layers) assert.deepEqual(await ts.data(l.digest), l.data);
  assert.equal(
    (await ts.data(arm.manifest.digest)) !== undefined,
    false,
    "other platforms are not fetched",
  );
  assert.equal(await ts.count(), 5);
  assert.deepEqual(ts.imageStore.get(ctx, pulled.name).target, {
    mediaType: index.index.mediaType,
    digest: index.index.digest,
    size: index.index.size,
    annotations: {},
  });
  assert.deepEqual(events[0], { kind: "resolving", name: pulled.name });
  assert.equal(events.at(-1)?.kind, "done");
  // A second pull finds everything present and updates the record.
  const again: PullEvent[] = [];
  await p.pull(ctx, name, { onProgress: (e) => again.push(e) });
  const states = again.flatMap((e) =>
    e.kind === "blob" && e.state !== "done" && e.state !== "waiting" ? [e.state] : [],
  );
  assert.deepEqual(states, ["exists", "exists"]);
});

test("pulls a Docker schema2 image with an uncompressed layer; platform not in the index is NotFound", async (t) => {
  const reg = await startRegistry(t);
  const docker = buildImage(multiLayerSpec("docker"));
  const name = await pushImage(reg, "library/docker", "v1", docker);
  const { ts, puller: p } = await puller(t);
  const pulled = await p.pull(ctx, name);
  assert.equal(pulled.manifest.mediaType, mediaTypes.dockerManifest);
  assert.equal(await ts.count(), 4);
  const only = buildIndex([
    buildImage({
      platform: { os: "linux", architecture: "s390x" },
      layers: [{ entries: busyboxEntries() }],
    }),
  ]);
  const other = await pushIndex(reg, "library/foreign", "v1", only);
  await assert.rejects(
    p.pull(ctx, other),
    (e) =>
      isNotFound(e) &&
      /no manifest for linux\/amd64 \(the index has: linux\/s390x\)/.test(String(e)),
  );
});

test("a config whose diff_ids disagree with the layers commits no manifest and no record", async (t) => {
  const reg = await startRegistry(t);
  const good = buildImage(multiLayerSpec("oci"));
  const config = JSON.parse(good.config.data.toString()) as { rootfs: { diff_ids: string[] } };
  config.rootfs.diff_ids.pop();
  const badConfig = blob(mediaTypes.ociConfig, Buffer.from(JSON.stringify(config)));
  const manifest = JSON.parse(good.manifest.data.toString()) as { config: object };
  manifest.config = {
    mediaType: badConfig.mediaType,
    digest: badConfig.digest,
    size: badConfig.size,
  };
  const badManifest = blob(mediaTypes.ociManifest, Buffer.from(JSON.stringify(manifest)));
  for (const l of good.layers) await pushBlob(reg, "library/liar", l);
  await pushBlob(reg, "library/liar", badConfig);
  await pushManifest(reg, "library/liar", "v1", badManifest);
  const { ts, puller: p } = await puller(t);
  await assert.rejects(
    p.pull(ctx, `${reg.host}/library/liar:v1`),
    (e) => isInvalidArgument(e) && /1 diff_ids for 2 layers/.test(String(e)),
  );
  assert.equal((await ts.data(badManifest.digest)) !== undefined, false);
  assert.equal(ts.imageStore.list(ctx).length, 0);
});

test("PullService: per-call credentials through a mirror; concurrent pulls share a base layer's download", async (t) => {
  const reg = await startRegistry(t, { auth: "token" });
  const proxy = await startFaultProxy(t, reg.host);
  const base = { entries: busyboxEntries() };
  const a = buildImage({ layers: [base, { entries: [{ name: "a", data: "a" }] }] });
  const b = buildImage({ layers: [base, { entries: [{ name: "b", data: "b" }] }] });
  await pushImage(reg, "e2e/a", "1", a);
  await pushImage(reg, "e2e/b", "1", b);
  const config = await tempDir(t, "sbx-certs-");
  await mkdir(join(config, "registry.k8s.io"));
  await writeFile(
    join(config, "registry.k8s.io", "hosts.toml"),
    `server = "https://registry.k8s.io"\n[host."http://${proxy.host}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
  const ts = await openStore(t, ctx);
  const images = storeRecords(ts.imageStore);
  const unpacked: string[] = [];
  const service = new PullService({
    content: ts.store,
    images,
    hostsConfigPath: config,
    unpack: (_ctx, image) => {
      unpacked.push(image.name);
      return Promise.resolve();
    },
  });
  await assert.rejects(service.pull(ctx, "registry.k8s.io/e2e/a:1"), isUnauthenticated);
  const auth = { username: reg.username, password: reg.password };
  const [pa, pb] = await Promise.all([
    service.pull(ctx, "registry.k8s.io/e2e/a:1", { auth }),
    service.pull(ctx, "registry.k8s.io/e2e/b:1", { auth }),
  ]);
  assert.equal(pa.manifest.digest, a.manifest.digest);
  assert.equal(pb.manifest.digest, b.manifest.digest);
  assert.deepEqual(
    ts.imageStore.list(ctx).map((i) => i.name),
    ["registry.k8s.io/e2e/a:1", "registry.k8s.io/e2e/b:1"],
  );
  assert.deepEqual(unpacked.sort(), ["registry.k8s.io/e2e/a:1", "registry.k8s.io/e2e/b:1"]);
  const shared = a.layers[0]?.digest ?? "";
  const gets = proxy.requests.filter(
    (r) => r.method === "GET" && r.path.includes(`/blobs/${shared}`) && !r.range,
  );
  assert.equal(gets.length, 1, "the shared base layer was downloaded once");
});
