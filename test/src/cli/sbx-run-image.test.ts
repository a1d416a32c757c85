// `sbx run IMAGE [CMD...]` as nerdctl and podman users type it (the real sbx against a
// real sandboxd, sbx-sandboxer and docker-registry): which word is the image, the image
// config as defaults, CMD and --entrypoint, --env-file, --user, the refusal of an
// ambiguous word, and arguments after the image reaching the command untouched. Root.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { buildImage, buildIndex, pushImage, pushIndex, startRegistry } from "@sandboxd/testing";
import { configuredImageSpec } from "../images/run-image.js";
import { assertEmpty, setupSbx } from "./harness.js";

test("sbx run IMAGE: image word, config, CMD, entrypoint, env-file, user, ambiguity", async (t) => {
  const { sbx, client, daemon, namespace } = await setupSbx(t);
  const reg = await startRegistry(t);
  // Its Cmd prints "$GREETING from $(pwd) as uid:gid" and exits 7; User 1000:1000.
  const name = await pushImage(reg, "cli/app", "v1", buildImage(configuredImageSpec()));

  await t.test("an image reference as the first word: pulled, config applied", async () => {
    const r = await sbx(["run", "--rm", name]);
    assert.equal(r.status, 7, r.stderr);
    assert.equal(r.stdout, "hello from /srv as 1000:1000\n");
    assert.match(r.stderr, /resolving/, "pulled with progress on stderr");
    await assertEmpty(client);
  });

  await t.test("CMD after the image replaces Cmd; its flags are the command's", async () => {
    const r = await sbx(["run", "--rm", name, "echo", "--env-file", "-v", "--rm", "-p", "1:2"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "--env-file -v --rm -p 1:2\n");
    assert.equal(r.stderr, "", "an image the daemon has is not pulled again");
  });

  await t.test("the id: --name, else <repository>-<random>", async () => {
    const named = await sbx(["run", "--rm", "--name", "web1", name, "hostname"]);
    assert.equal(named.status, 0, named.stderr);
    assert.equal(named.stdout, "web1\n");
    const made = await sbx(["run", "--rm", name, "hostname"]);
    assert.equal(made.status, 0, made.stderr);
    assert.match(made.stdout, /^app-[0-9a-f]{6}\n$/);
    await assertEmpty(client);
  });

  await t.test("--entrypoint replaces Entrypoint and Cmd", async () => {
    const r = await sbx(["run", "--rm", "--entrypoint", "echo", name, "a", "b"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "a b\n");
  });

  await t.test("--env-file: lines, comments, a bare KEY from sbx's env; --env wins", async () => {
    const file = join(daemon.dir, "app.env");
    await writeFile(
      file,
      "# settings\nA=from file\n\nB=2=two\nSANDBOXD_NAMESPACE\nGREETING=hi\nUNSET_HERE_\n",
    );
    const r = await sbx([
      "run",
      "--rm",
      "--env-file",
      file,
      "-e",
      "B=flag",
      name,
      "sh",
      "-c",
      'echo "$A|$B|$SANDBOXD_NAMESPACE|$GREETING|${UNSET_HERE_-unset}"',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `from file|flag|${namespace}|hi|unset\n`);
    const bad = await sbx(["run", "--rm", "--env-file", join(daemon.dir, "none.env"), name]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--env-file ".*none\.env": .*no such file/i);
  });

  await t.test("--platform reaches the pull of a missing image", async () => {
    // An index with the host's platform only.
    const other = await pushIndex(
      reg,
      "cli/other",
      "v1",
      buildIndex([buildImage(configuredImageSpec())]),
    );
    const r = await sbx(["run", "--rm", "--platform", "linux/s390x", other]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no manifest for linux\/s390x/);
    await assertEmpty(client);
  });

  await t.test("--user: numeric and by name (the image's /etc/passwd)", async () => {
    const root = await sbx(["run", "--rm", "-u", "0", name, "id", "-u"]);
    assert.equal(root.status, 0, root.stderr);
    assert.equal(root.stdout, "0\n");
    const nobody = await sbx(["run", "--rm", "--user", "nobody", name, "id", "-u"]);
    assert.equal(nobody.status, 0, nobody.stderr);
    assert.equal(nobody.stdout, "65534\n");
  });

  await t.test("a plain word is the id (busybox rootfs) unless it names an image too", async () => {
    const plain = await sbx(["run", "--rm", "plain", "echo", "ok"]);
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(plain.stdout, "ok\n");
    const tag = await sbx(["image", "tag", name, "app"]);
    assert.equal(tag.status, 0, tag.stderr);
    const amb = await sbx(["run", "--rm", "app", "true"]);
    assert.equal(amb.status, 2, "a usage error");
    assert.match(amb.stderr, /"app" is ambiguous: .*docker\.io\/library\/app:latest/);
    const full = await sbx(["run", "--rm", "app:latest", "echo", "image"]);
    assert.equal(full.status, 0, full.stderr);
    assert.equal(full.stdout, "image\n");
    const withImage = await sbx(["run", "--rm", "--image", name, "x:y", "true"]);
    assert.equal(withImage.status, 2, "a usage error");
    assert.match(withImage.stderr, /"x:y" looks like an image reference, but --image was given/);
    const noImage = await sbx(["run", "--rm", "--name", "n"]);
    assert.equal(noImage.status, 2, "a usage error");
    assert.match(noImage.stderr, /--name NAME needs an IMAGE/);
    const nothing = await sbx(["run"]);
    assert.equal(nothing.status, 2, "a usage error");
    assert.match(nothing.stderr, /"sbx run" needs an IMAGE or a container ID/);
    await assertEmpty(client);
  });
});
