// `sbx run --image REF` (the real sbx) against a real sandboxd and sbx-sandboxer with an
// image from a real docker-registry: pulled when missing, the image config as defaults,
// the exit status passed on, --rm removing the container, its snapshot and its sandbox. Root.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildImage, pushImage, startRegistry } from "@sandboxd/testing";
import { setupSbx } from "../cli/harness.js";
import { configuredImageSpec } from "./run-image.js";

test("sbx run --image: pulls when missing, image config, exit status, --rm cleans up", async (t) => {
  const { sbx, client, daemon, namespace } = await setupSbx(t);
  const reg = await startRegistry(t);
  const name = await pushImage(reg, "cli/run", "v1", buildImage(configuredImageSpec()));
  const snapshots = async (): Promise<string> =>
    (await daemon.sandboxd.ctr(["-n", namespace, "snapshots", "ls"])).stdout;

  const first = await sbx(["run", "--rm", "--image", name, "r1"]);
  assert.equal(first.status, 7, first.stderr);
  assert.equal(first.stdout, "hello from /srv as 1000:1000\n");
  assert.match(first.stderr, new RegExp(`^${name.replace(/[.]/g, "\\.")}: resolving`, "m"));
  assert.deepEqual(
    (await client.listImages()).map((i) => i.name),
    [name],
  );
  assert.deepEqual(await client.containers(), []);
  assert.deepEqual(await client.sandboxes(), []);
  assert.doesNotMatch(await snapshots(), /\br1\b/);

  const second = await sbx(["run", "--rm", "--image", name, "r2", "echo", "hi", "there"]);
  assert.equal(second.status, 0, second.stderr);
  assert.equal(second.stdout, "hi there\n");
  assert.equal(second.stderr, "", "an image the daemon has is not pulled again");

  const entry = await sbx(["run", "--rm", "--image", name, "--entrypoint", "echo", "r6", "a", "b"]);
  assert.equal(entry.status, 0, entry.stderr);
  assert.equal(entry.stdout, "a b\n", "--entrypoint replaces Entrypoint and Cmd");

  const kept = await sbx([
    "run",
    "-u",
    "0",
    "--env",
    "A=1",
    "--image",
    name,
    "r3",
    "sh",
    "-c",
    "echo $A $GREETING; id -u; exit 3",
  ]);
  assert.equal(kept.status, 3, kept.stderr);
  assert.equal(kept.stdout, "1 hello\n0\n");
  const r3 = await client.loadContainer("r3");
  assert.equal(r3.info.image, name);
  assert.match(await snapshots(), /\br3\b/);
  const rm = await sbx(["container", "rm", "r3"]);
  assert.equal(rm.status, 0, rm.stderr);
  assert.doesNotMatch(await snapshots(), /\br3\b/, "sbx container rm removes the snapshot");
  await (await client.loadSandbox("r3")).shutdown();

  const both = await sbx(["run", "--rm", "--image", name, "--rootfs", "/", "r4"]);
  assert.notEqual(both.status, 0);
  assert.match(both.stderr, /--image and --rootfs cannot be used together/);
  const named = await sbx(["run", "--rm", "--image", name, "-u", "nobody", "r5", "id", "-u"]);
  assert.equal(named.status, 0, named.stderr);
  assert.equal(named.stdout, "65534\n", "a user name from the image's /etc/passwd");
  const badUser = await sbx(["run", "--rm", "--image", name, "-u", "ghost", "r7"]);
  assert.notEqual(badUser.status, 0);
  assert.match(badUser.stderr, /no user "ghost"/);
  assert.deepEqual(await client.containers(), []);
  assert.deepEqual(await client.sandboxes(), []);
  assert.equal((await snapshots()).match(/\br[0-9]\b/), null, "no container snapshot left");
});
