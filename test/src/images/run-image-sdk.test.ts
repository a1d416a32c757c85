// newContainer(id, {image}) against a real sandboxd and sbx-sandboxer with an image from a
// real docker-registry: a snapshot prepared under the container id, its mounts in
// Tasks.Create's rootfs, the process from the image config, GC keeping the snapshot while
// the container exists (even with the image removed), delete removing it. Root.
import assert from "node:assert/strict";
import { test } from "node:test";
import { capture } from "@sandboxd/client";
import { isAlreadyExists, isNotFound, messageOf } from "@sandboxd/errdefs";
import { buildImage, pushImage, startRegistry } from "@sandboxd/testing";
import { connect } from "../client/daemon.js";
import { configuredImageSpec, within } from "./run-image.js";

const deadline = 120_000;

test("newContainer(id, {image}): snapshot rootfs, image config, GC-safe, removed with the container", async (t) => {
  const { client, daemon, fifoDir } = await connect(t);
  const reg = await startRegistry(t);
  const name = await pushImage(reg, "sdk/run", "v1", buildImage(configuredImageSpec()));
  await within(client.pull(name), deadline, `the pull of ${name}`);
  const snapshots = async (): Promise<string> =>
    (await daemon.sandboxd.ctr(["-n", client.namespace, "snapshots", "ls"])).stdout;

  const sandbox = await client.newSandbox("img-pod");
  await within(sandbox.start(), deadline, "the sandbox to start");
  const c1 = await sandbox.newContainer("c1", { image: name });
  assert.equal(c1.info.image, name);
  assert.equal(c1.info.snapshotter, "overlayfs");
  assert.equal(c1.info.snapshotKey, "c1");
  const info = await daemon.sandboxd.ctr(["-n", client.namespace, "snapshots", "info", "c1"]);
  assert.equal(info.code, 0, info.stderr);
  assert.doesNotMatch(
    info.stdout,
    /gc\.root/,
    "the container record holds it, not a gc.root label",
  );
  await assert.rejects(sandbox.newContainer("c1", { image: name }), isAlreadyExists);
  assert.match(await snapshots(), /\bc1\b/, "a refused duplicate leaves the first one's snapshot");
  const spec = await c1.spec();
  assert.deepEqual(spec.process?.user, { uid: 1000, gid: 1000 });
  assert.equal(spec.process?.cwd, "/srv");
  assert.ok(spec.process?.env?.includes("GREETING=hello"));
  const overridden = await sandbox.newContainer("c2", {
    image: name,
    process: {
      args: ["sh", "-c", "echo $GREETING $A; id -u; pwd"],
      env: ["A=b"],
      user: "0",
      cwd: "/",
    },
  });
  // A user name is looked up in the image's /etc/passwd (read from its layers).
  const named = await sandbox.newContainer("c3", { image: name, process: { user: "nobody" } });
  assert.deepEqual((await named.spec()).process?.user, { uid: 65534, gid: 65534 });
  await named.delete();
  await assert.rejects(
    sandbox.newContainer("c4", { image: name, process: { user: "ghost" } }),
    (err) => isNotFound(err) && /no user "ghost"/.test(messageOf(err)),
  );
  assert.doesNotMatch(await snapshots(), /\bc[34]\b/, "removed, or never left behind");

  // GC after removing the image: the containers' snapshots (and their parents) stay.
  await client.deleteImage(name, { sync: true });
  const kept = await snapshots();
  assert.match(kept, /\bc1\b/);
  assert.match(kept, /\bc2\b/);

  for (const [container, want, status] of [
    [c1, "hello from /srv as 1000:1000\n", 7],
    [overridden, "hello b\n0\n/\n", 0],
  ] as const) {
    const io = capture(undefined, { fifoDir });
    const task = await within(
      container.newTask({ io }),
      deadline,
      `Tasks.Create of ${container.id}`,
    );
    const exited = task.wait();
    await within(task.start(), deadline, `Tasks.Start of ${container.id}`);
    const exit = await within(exited, deadline, `the exit of ${container.id}`);
    assert.equal(io.stdout, want, `stdout of ${container.id} (stderr: ${io.stderr})`);
    assert.equal(exit.exitStatus, status);
    await task.delete();
  }

  await c1.delete();
  await overridden.delete();
  const left = await snapshots();
  assert.doesNotMatch(left, /\bc1\b/);
  assert.doesNotMatch(left, /\bc2\b/);
  await sandbox.shutdown();
});
