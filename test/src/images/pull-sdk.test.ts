// client.pull end to end over gRPC: the SDK on one side, sandboxd's Pull service adapter in
// process on the other (over the real content store, overlayfs snapshotter and unpack),
// images from a real docker-registry.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { background, type Ctx } from "@sandboxd/core";
import { GrpcServer } from "@sandboxd/grpc";
import { Client, type PullProgress } from "@sandboxd/client";
import { Pull, pullService } from "@sandboxd/daemon";
import { isNotFound, isUnauthenticated } from "@sandboxd/errdefs";
import {
  ImageStore,
  LocalContentStore,
  PullService,
  storeRecords,
  openImagesDb,
  openSnapshotter,
  overlaySupported,
  unpackImage,
} from "@sandboxd/images";
import { buildImage, multiLayerSpec, pushImage, startRegistry, tempDir } from "@sandboxd/testing";

test("client.pull streams per-layer progress, ends with the image, maps errors to errdefs", async (t) => {
  const reg = await startRegistry(t, { auth: "basic" });
  const image = buildImage(multiLayerSpec("oci"));
  const name = await pushImage(reg, "library/busybox", "latest", image);
  const dir = await tempDir(t, "sbx-psdk-");
  const db = openImagesDb(join(dir, "meta.db"));
  t.after(() => db.close());
  const content = new LocalContentStore(join(dir, "content"), db);
  await content.init();
  const snapshotter = await openSnapshotter(dir, overlaySupported() ? "overlayfs" : "native", db);
  const imageStore = new ImageStore(db);
  const records = storeRecords(imageStore);
  const pulls = new PullService({
    content,
    images: records,
    unpack: async (c, img) => {
      await unpackImage(c, { snapshotter, content }, img);
    },
  });
  const root: Ctx = background();
  const server = new GrpcServer();
  server.register(
    Pull,
    pullService(pulls, (call) => ({
      signal: call.signal,
      deadline: call.deadline,
      namespace: call.header("containerd-namespace"),
      log: root.log,
    })),
  );
  const socket = join(dir, "s.sock");
  await server.listenUnix(socket);
  t.after(() => server.shutdown(1000));
  const client = await Client.connect({ address: socket, namespace: "default" });
  t.after(() => client.close());

  await assert.rejects(client.pull(name), isUnauthenticated);
  const events: PullProgress[] = [];
  const pulled = await client.pull(name, {
    credentials: { username: reg.username, password: reg.password },
    onProgress: (e) => events.push(e),
  });
  assert.deepEqual(pulled, {
    name: `${reg.host}/library/busybox:latest`,
    digest: image.manifest.digest,
  });
  const kinds = [...new Set(events.map((e) => e.kind))];
  assert.deepEqual(kinds, ["resolving", "resolved", "manifest", "blob", "unpacking", "done"]);
  for (const layer of image.layers) {
    const done = events.find(
      (e) => e.kind === "blob" && e.digest === layer.digest && e.state === "done",
    );
    assert.equal(done?.total, layer.size);
  }
  assert.equal(
    imageStore.get({ ...root, namespace: "default" }, pulled.name).target.digest,
    image.manifest.digest,
  );
  assert.equal(snapshotter.walk({ ...root, namespace: "default" }).length, 2);
  await assert.rejects(
    client.pull(`${reg.host}/library/busybox:missing`, {
      credentials: { username: reg.username, password: reg.password },
    }),
    isNotFound,
  );
});
