// critest "Image Manager" (and Idempotence › RemoveImage) against a local
// registry: pull with a tag, without one (":latest"), by digest only (no
// RepoTags), a 1 ms deadline, status by every reference kind, uid/username
// from the image's USER, three images, one image with three tags. The
// upstream digest critest pins cannot be served offline; pulling by a digest
// of our own registry checks the same behaviour.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { isDeadlineExceeded } from "@sandboxd/errdefs";
import { openRegistryWorld, type RegistryWorld } from "./registry-world.js";

describe("critest Image Manager", { timeout: 240_000 }, () => {
  let r: RegistryWorld;
  before(async () => {
    r = await openRegistryWorld();
  });
  after(async () => {
    await r?.close();
  });

  const status = async (image: string) => (await r.im.imageStatus({ image: { image } })).image;
  const marker = (text: string) => [{ name: "etc/marker", data: `${text}\n` }];

  /** critest's testPullPublicImage: pull, check the status, remove, gone. */
  async function pullAndRemove(
    ref: string,
    check: (repoTags: string[], digests: string[]) => void,
  ) {
    const { imageRef } = await r.im.pullImage({ image: { image: ref } });
    const s = await status(ref);
    assert.ok(s, `status of ${ref}`);
    assert.equal(s.id, imageRef);
    check(s.repoTags, s.repoDigests);
    await r.im.removeImage({ image: { image: ref } });
    assert.equal(await status(ref), undefined);
  }

  test("public image with tag should be pulled and removed", async () => {
    const { name } = await r.push("test-image-tag", "test", marker("tag"));
    await pullAndRemove(name, (tags) => assert.deepEqual(tags, [name]));
  });

  test("public image should timeout if requested (1 ms deadline: DeadlineExceeded)", async () => {
    const { name } = await r.push("test-image-timeout", "1", marker("timeout"));
    await assert.rejects(r.im.pullImage({ image: { image: name } }, { timeoutMs: 1 }), (err) =>
      isDeadlineExceeded(err),
    );
  });

  test("public image without tag should be pulled and removed (tag :latest)", async () => {
    const { name } = await r.push("test-image-latest", "latest", marker("latest"));
    const bare = name.replace(/:latest$/, "");
    await pullAndRemove(bare, (tags) => assert.deepEqual(tags, [`${bare}:latest`]));
  });

  test("image with digest should be pulled and removed (no RepoTags, the digest as RepoDigest)", async () => {
    const { name, digest } = await r.push("test-image-digest", "d", marker("digest"));
    const byDigest = `${name.replace(/:d$/, "")}@${digest}`;
    await pullAndRemove(byDigest, (tags, digests) => {
      assert.deepEqual(tags, []);
      assert.deepEqual(digests, [byDigest]);
    });
  });

  test("image status should support all kinds of references", async () => {
    const { name } = await r.push("test-image-tag", "all", marker("all"));
    await r.im.pullImage({ image: { image: name } });
    const s = await status(name);
    assert.ok(s);
    assert.deepEqual(await status(s.id), s);
    for (const tag of s.repoTags) assert.deepEqual(await status(tag), s, tag);
    assert.ok(s.repoDigests.length > 0);
    for (const d of s.repoDigests) assert.deepEqual(await status(d), s, d);
    await r.im.removeImage({ image: { image: name } });
    assert.equal(await status(name), undefined);
  });

  test("image status get image fields should not have Uid|Username empty", async () => {
    const cases = [
      { repo: "test-image-user-uid", user: "1002", uid: 1002n, username: "" },
      { repo: "test-image-user-username", user: "www-data", uid: 0n, username: "www-data" },
      { repo: "test-image-user-uid-group", user: "1003:1004", uid: 1003n, username: "" },
      {
        repo: "test-image-user-username-group",
        user: "www-data:1004",
        uid: 0n,
        username: "www-data",
      },
    ];
    for (const c of cases) {
      const { name } = await r.push(c.repo, "latest", marker(c.repo), { User: c.user });
      await r.im.pullImage({ image: { image: name } });
      const s = await status(name);
      assert.equal(s?.uid?.value ?? 0n, c.uid, c.repo);
      assert.equal(s?.username, c.username, c.repo);
      await r.im.removeImage({ image: { image: name } });
    }
  });

  test("listImage should get exactly 3 images, one repo tag each", async () => {
    const names: string[] = [];
    for (const i of [1, 2, 3])
      names.push((await r.push(`test-image-${i}`, "latest", marker(`image ${i}`))).name);
    const ids: string[] = [];
    for (const n of names) ids.push((await r.im.pullImage({ image: { image: n } })).imageRef);
    assert.equal(new Set(ids).size, 3);
    const listed = (await r.im.listImages({})).images;
    ids.forEach((id, i) => {
      assert.deepEqual(listed.find((img) => img.id === id)?.repoTags, [names[i]]);
    });
    for (const n of names) await r.im.removeImage({ image: { image: n } });
  });

  test("listImage should get exactly 3 repoTags in the result image", async () => {
    const names: string[] = [];
    for (const t of ["1", "2", "3"])
      names.push((await r.push("test-image-tags", t, marker("one image"))).name);
    const ids = new Set<string>();
    for (const n of names) ids.add((await r.im.pullImage({ image: { image: n } })).imageRef);
    assert.equal(ids.size, 1, "one image id");
    const [id] = [...ids];
    const listed = (await r.im.listImages({})).images.find((img) => img.id === id);
    assert.deepEqual([...(listed?.repoTags ?? [])].sort(), [...names].sort());
    // Removing by one tag removes the image and all its tags.
    await r.im.removeImage({ image: { image: names[0] ?? "" } });
    for (const n of names) assert.equal(await status(n), undefined, n);
  });

  test("Idempotence: RemoveImage of an image that is not there succeeds", async () => {
    await r.im.removeImage({ image: { image: `${r.reg.host}/never-pulled:1` } });
    await r.im.removeImage({ image: { image: "sha256:" + "0".repeat(64) } });
  });
});
