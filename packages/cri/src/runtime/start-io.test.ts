import assert from "node:assert/strict";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { makeFifos } from "./io.js";
import { ImageUserFiles, type UserFiles } from "./rootfs-user.js";

test("makeFifos makes every FIFO, and again over FIFOs already there", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cri-fifos-"));
  try {
    const io = join(dir, "io");
    const first = await makeFifos(io, ["stdout", "stderr", "stdin"]);
    assert.deepEqual(Object.keys(first).sort(), ["stderr", "stdin", "stdout"]);
    for (const path of Object.values(first)) {
      const st = await stat(path);
      assert.ok(st.isFIFO(), `${path} is a FIFO`);
      assert.equal(st.mode & 0o777, 0o600);
    }
    // A restarted start (or an exec reusing its directory) finds them there.
    assert.deepEqual(await makeFifos(io, ["stdout", "stderr"]), {
      stdout: first.stdout,
      stderr: first.stderr,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("makeFifos fails naming what it could not make", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cri-fifos-"));
  try {
    // The FIFOs before the one it cannot make are made; the call fails naming that one.
    await assert.rejects(makeFifos(join(dir, "io"), ["stdout", "missing/stderr"]), /missing/);
    assert.ok((await stat(join(dir, "io", "stdout"))).isFIFO());
    await writeFile(join(dir, "plain"), "");
    await assert.rejects(makeFifos(join(dir, "plain"), ["stdout"]), /plain/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("ImageUserFiles reads a chain once, shares a read in flight, keeps no failure", async () => {
  const cache = new ImageUserFiles(2);
  let reads = 0;
  const files = (passwd: string) => async (): Promise<UserFiles> => {
    reads++;
    await new Promise((r) => setImmediate(r));
    return { passwd };
  };
  const [a, b] = await Promise.all([cache.get("a", files("A")), cache.get("a", files("other"))]);
  assert.deepEqual([a, b, reads], [{ passwd: "A" }, { passwd: "A" }, 1]);
  assert.deepEqual(await cache.get("a", files("other")), { passwd: "A" });
  assert.equal(reads, 1);

  await assert.rejects(
    cache.get("bad", () => Promise.reject(new Error("mount failed"))),
    /mount failed/,
  );
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(await cache.get("bad", files("B")), { passwd: "B" });

  // Limit 2: "a" was used before "bad", so adding "c" drops "a".
  await cache.get("c", files("C"));
  const before = reads;
  assert.deepEqual(await cache.get("bad", files("x")), { passwd: "B" });
  assert.deepEqual(await cache.get("a", files("A2")), { passwd: "A2" });
  assert.equal(reads, before + 1);
});
