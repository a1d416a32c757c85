// `sbx image prune [--all]` after `sbx run IMAGE`: dangling (digest-only) images go first,
// --all takes every image no container uses, an image in use stays, and the content of
// what went is collected. Real sbx, sandboxd and docker-registry. Root.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildImage, busyboxEntries, pushImage, startRegistry } from "@sandboxd/testing";
import { setupSbx } from "./harness.js";

test("sbx image prune: dangling first, --all keeps what containers use", async (t) => {
  const { sbx, client, daemon, namespace } = await setupSbx(t);
  const reg = await startRegistry(t);
  const image = (cmd: string) =>
    buildImage({
      config: { Cmd: ["sh", "-c", cmd], Env: ["PATH=/bin"] },
      layers: [{ compression: "gzip", entries: busyboxEntries() }],
    });
  const used = await pushImage(reg, "cli/used", "v1", image("echo used"));
  const spare = await pushImage(reg, "cli/spare", "v1", image("echo spare"));
  const byDigest = await pushImage(reg, "cli/loose", undefined, image("echo loose"));
  assert.match(byDigest, /@sha256:/);
  for (const name of [spare, byDigest]) {
    const pulled = await sbx(["pull", name]);
    assert.equal(pulled.status, 0, pulled.stderr);
  }
  // Kept (no --rm): the container names the image it was made from.
  const ran = await sbx(["run", "--name", "keep", used]);
  assert.equal(ran.status, 0, ran.stderr);
  assert.equal(ran.stdout, "used\n");
  const names = async () => (await client.listImages()).map((i) => i.name).sort();
  assert.deepEqual(await names(), [byDigest, spare, used].sort());

  const dangling = await sbx(["image", "prune"]);
  assert.equal(dangling.status, 0, dangling.stderr);
  assert.equal(dangling.stdout, `${byDigest}\n`);
  assert.deepEqual(await names(), [spare, used].sort());

  const all = await sbx(["image", "prune", "--all"]);
  assert.equal(all.status, 0, all.stderr);
  assert.equal(all.stdout, `${spare}\n`, "the image a container uses stays");
  assert.deepEqual(await names(), [used]);

  await (await client.loadContainer("keep")).delete();
  await (await client.loadSandbox("keep")).shutdown();
  const last = await sbx(["-o", "json", "image", "prune", "-a"]);
  assert.equal(last.status, 0, last.stderr);
  assert.deepEqual(JSON.parse(last.stdout), { removed: [used] });
  assert.deepEqual(await names(), []);
  const content = await daemon.sandboxd.ctr(["-n", namespace, "content", "ls", "-q"]);
  assert.equal(content.stdout.trim(), "", "no content left once no image holds it");
  const nothing = await sbx(["image", "prune", "--all"]);
  assert.equal(nothing.status, 0, nothing.stderr);
  assert.equal(nothing.stdout, "");
});
