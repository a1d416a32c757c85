// CRI ImageService over sandboxd's image services, against a real local
// registry (basic auth) and a real sandboxd + sbx-sandboxer: critest's
// "Image Manager" specs (pull with and without tag/digest, status, list,
// remove, uid/username) plus AuthConfig, ImageFsInfo, and a container whose
// rootfs is the pulled image's snapshot.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { ContainerState, ImageService } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { Channel } from "@sandboxd/grpc";
import {
  buildImage,
  busyboxEntries,
  multiLayerSpec,
  waitUntil,
  pushImage,
  requireRoot,
  startRegistry,
} from "@sandboxd/testing";
import { containerConfig, openCri, podConfig } from "./harness.js";

test(
  "CRI ImageService: pull with AuthConfig, status, list, remove, fs info",
  { timeout: 240_000 },
  async (t) => {
    requireRoot("sandboxd runs as root");
    const reg = await startRegistry(t, { auth: "basic" });
    const image = buildImage(multiLayerSpec("oci"));
    const name = await pushImage(reg, "library/busybox", "1.0", image);
    const second = await pushImage(reg, "library/busybox", "2.0", image);
    const nobody = buildImage({
      layers: [{ entries: busyboxEntries() }],
      config: { User: "nobody" },
    });
    const nobodyName = await pushImage(reg, "library/nobody", "1", nobody);
    const w = await openCri();
    t.after(() => w.close());
    const channel = new Channel(w.daemon.address);
    t.after(() => channel.close());
    const im = channel.client(ImageService);
    const auth = { username: reg.username, password: reg.password };
    const id = image.config.digest;
    const repoDigest = `${reg.host}/library/busybox@${image.manifest.digest}`;

    // NotFound is an empty answer, as containerd's.
    assert.equal((await im.imageStatus({ image: { image: name } })).image, undefined);
    await assert.rejects(im.pullImage({ image: { image: name } }), "no credentials: refused");

    const pulled = await im.pullImage({ image: { image: name }, auth });
    assert.equal(pulled.imageRef, id);
    const byName = (await im.imageStatus({ image: { image: name } })).image;
    assert.ok(byName);
    assert.equal(byName.id, id);
    assert.deepEqual(byName.repoTags, [name]);
    assert.deepEqual(byName.repoDigests, [repoDigest]);
    const size =
      image.manifest.data.length +
      image.config.data.length +
      image.layers.reduce((n, l) => n + l.data.length, 0);
    assert.equal(byName.size, BigInt(size));
    for (const ref of [id, id.slice("sha256:".length, "sha256:".length + 12), repoDigest]) {
      assert.equal((await im.imageStatus({ image: { image: ref } })).image?.id, id, ref);
    }

    // AuthConfig.auth (base64 user:password) names a second tag of the same image.
    const b64 = Buffer.from(`${reg.username}:${reg.password}`).toString("base64");
    assert.equal(
      (await im.pullImage({ image: { image: second }, auth: { auth: b64 } })).imageRef,
      id,
    );
    assert.deepEqual((await im.imageStatus({ image: { image: second } })).image?.repoTags, [
      name,
      second,
    ]);

    await im.pullImage({ image: { image: nobodyName }, auth });
    const nb = (await im.imageStatus({ image: { image: nobodyName } })).image;
    assert.equal(nb?.username, "nobody");
    assert.equal(nb?.uid, undefined);

    const all = (await im.listImages({})).images;
    assert.deepEqual(all.map((i) => i.id).sort(), [id, nobody.config.digest].sort());
    const filtered = (await im.listImages({ filter: { image: { image: nobodyName } } })).images;
    assert.deepEqual(
      filtered.map((i) => i.id),
      [nobody.config.digest],
    );
    assert.deepEqual((await im.listImages({ filter: { image: { image: "nope:1" } } })).images, []);

    const fs = await im.imageFsInfo({});
    const usage = fs.imageFilesystems[0];
    assert.ok(usage?.fsId?.mountpoint.includes("io.containerd.snapshotter.v1."));
    assert.ok((usage?.usedBytes?.value ?? 0n) > 0n, "unpacked layers use space");
    assert.ok((usage?.inodesUsed?.value ?? 0n) > 0n);

    // ctr in k8s.io sees what the CRI pulled.
    const ctr = await w.daemon.ctr(["images", "ls", "-q"], { namespace: "k8s.io" });
    assert.deepEqual(ctr.stdout.trim().split("\n").sort(), [name, nobodyName, second].sort());

    // A container of a pulled image: rootfs = a snapshot on the image's top chain ID (both
    // layers, whiteouts applied), entrypoint + args, the image's env under the config's, its workdir.
    const runner = buildImage({
      ...multiLayerSpec("oci"),
      config: {
        Entrypoint: ["/bin/sh", "-c"],
        Cmd: ["echo from cmd"],
        Env: ["PATH=/bin", "GREETING=hello", "WHO=image"],
        WorkingDir: "/srv",
      },
    });
    const runnerName = await pushImage(reg, "library/runner", "1", runner);
    await im.pullImage({ image: { image: runnerName }, auth });
    const pod = podConfig(w, "img");
    const { podSandboxId } = await w.rt.runPodSandbox({ config: pod });
    const script =
      'echo "$GREETING $WHO from $(pwd)"; ls /dir; test -e /etc/hello || echo whiteout';
    const cfg = containerConfig(w, "runner", [], {
      image: { image: runnerName },
      args: [script],
      envs: [{ key: "WHO", value: "cri" }],
    });
    const { containerId } = await w.rt.createContainer({
      podSandboxId,
      config: cfg,
      sandboxConfig: pod,
    });
    await w.rt.startContainer({ containerId });
    await waitUntil(
      async () =>
        (await w.rt.containerStatus({ containerId })).status?.state ===
        ContainerState.CONTAINER_EXITED,
      { timeoutMs: 60_000, what: "the container exits" },
    );
    const st = (await w.rt.containerStatus({ containerId })).status;
    assert.equal(st?.exitCode, 0);
    assert.equal(st?.imageRef, runner.config.digest);
    const log = await readFile(join(pod.logDirectory, "runner.log"), "utf8");
    const lines = log
      .trimEnd()
      .split("\n")
      .map((l) => l.split(" ").slice(3).join(" "));
    assert.deepEqual(lines, ["hello cri from /srv", "c", "whiteout"], log);
    // The default command is the image's entrypoint + cmd.
    const dflt = containerConfig(w, "dflt", [], { image: { image: runner.config.digest } });
    const d = await w.rt.createContainer({ podSandboxId, config: dflt, sandboxConfig: pod });
    await w.rt.startContainer({ containerId: d.containerId });
    await waitUntil(
      async () =>
        (await w.rt.containerStatus({ containerId: d.containerId })).status?.state ===
        ContainerState.CONTAINER_EXITED,
      { timeoutMs: 60_000, what: "the default-command container exits" },
    );
    assert.match(
      await readFile(join(pod.logDirectory, "dflt.log"), "utf8"),
      / stdout F from cmd\n$/,
    );
    // A numeric USER of the image is the process's uid:gid when the config names no user.
    const numeric = buildImage({
      layers: [{ entries: busyboxEntries() }],
      config: { User: "1234:5" },
    });
    const numericName = await pushImage(reg, "library/numeric", "1", numeric);
    await im.pullImage({ image: { image: numericName }, auth });
    const ids = containerConfig(w, "ids", ["sh", "-c", "echo $(id -u):$(id -g)"], {
      image: { image: numericName },
    });
    const u = await w.rt.createContainer({ podSandboxId, config: ids, sandboxConfig: pod });
    await w.rt.startContainer({ containerId: u.containerId });
    await waitUntil(
      async () =>
        (await w.rt.containerStatus({ containerId: u.containerId })).status?.state ===
        ContainerState.CONTAINER_EXITED,
      { timeoutMs: 60_000, what: "the USER container exits" },
    );
    assert.match(await readFile(join(pod.logDirectory, "ids.log"), "utf8"), / stdout F 1234:5\n$/);
    await assert.rejects(
      w.rt.createContainer({
        podSandboxId,
        config: containerConfig(w, "missing", ["true"], { image: { image: "nope:1" } }),
        sandboxConfig: pod,
      }),
      /not found/,
    );
    await w.rt.removePodSandbox({ podSandboxId });
    await im.removeImage({ image: { image: runnerName } });
    await im.removeImage({ image: { image: numericName } });

    // RemoveImage removes every tag of the image; again is fine.
    await im.removeImage({ image: { image: name } });
    assert.equal((await im.imageStatus({ image: { image: name } })).image, undefined);
    assert.equal((await im.imageStatus({ image: { image: second } })).image, undefined);
    await im.removeImage({ image: { image: name } });
    await im.removeImage({ image: { image: id } });
    assert.deepEqual(
      (await im.listImages({})).images.map((i) => i.id),
      [nobody.config.digest],
    );
  },
);
