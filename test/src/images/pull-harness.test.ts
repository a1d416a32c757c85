// The local registry harness itself: docker-registry starts on loopback in each auth
// variant, takes the hand-built test images through its HTTP API and serves them back.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import {
  buildImage,
  buildIndex,
  busyboxEntries,
  hostileSpec,
  multiLayerSpec,
  pushImage,
  pushIndex,
  startRegistry,
  tar,
  type AfterHook,
  type Registry,
} from "@sandboxd/testing";

async function getManifest(reg: Registry, repo: string, ref: string, authz?: string) {
  return fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, {
    headers: {
      accept:
        "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json",
      ...(authz ? { authorization: authz } : {}),
    },
  });
}

/** A registry with `auth` that holds private/img:v1 (a busybox image). */
async function privateRegistry(t: AfterHook, auth: "basic" | "token"): Promise<Registry> {
  const reg = await startRegistry(t, { auth });
  await pushImage(
    reg,
    "private/img",
    "v1",
    buildImage({ layers: [{ entries: busyboxEntries() }] }),
  );
  return reg;
}

test("tar writer output is read back by GNU tar with the same names, modes and links", () => {
  const dir = mkdtempSync(join(tmpdir(), "sbx-tar-"));
  try {
    const long = `d/${"x".repeat(120)}`;
    const data = tar([
      { name: "d/", type: "dir", mode: 0o750 },
      { name: "d/f", data: "hi\n", mode: 0o640 },
      { name: long, data: "long\n" },
      { name: "d/s", type: "symlink", linkname: "f" },
      { name: "d/h", type: "hardlink", linkname: "d/f" },
    ]);
    execFileSync("tar", ["-x", "-C", dir], { input: data });
    assert.equal(readFileSync(join(dir, "d/f"), "utf8"), "hi\n");
    assert.equal(readFileSync(join(dir, long), "utf8"), "long\n");
    assert.equal(readFileSync(join(dir, "d/s"), "utf8"), "hi\n");
    const listing = execFileSync("tar", ["-tvf", "-"], { input: data }).toString();
    assert.match(listing, /drwxr-x--- 0\/0 .* d\//);
    assert.match(listing, /d\/h link to d\/f/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("layers decompress to the tar whose digest the config lists", () => {
  const image = buildImage(multiLayerSpec("oci"));
  const [gz, zst] = image.layers;
  assert.ok(gz && zst);
  const config = JSON.parse(image.config.data.toString()) as { rootfs: { diff_ids: string[] } };
  assert.deepEqual(config.rootfs.diff_ids, [gz.diffID, zst.diffID]);
  assert.ok(gunzipSync(gz.data).length > 1_000_000, "busybox is in the first layer");
  assert.ok(zstdDecompressSync(zst.data).toString("latin1").includes(".wh..wh..opq"));
});

test("open registry: OCI, Docker schema2 and a multi-platform index round-trip", async (t) => {
  const reg = await startRegistry(t);
  const oci = buildImage(multiLayerSpec("oci"));
  const docker = buildImage(multiLayerSpec("docker"));
  await pushImage(reg, "library/multi", "oci", oci);
  await pushImage(reg, "library/multi", "docker", docker);
  const arm = buildImage({
    platform: { os: "linux", architecture: "arm64", variant: "v8" },
    layers: [{ entries: [{ name: "arch", data: "arm64\n" }], compression: "none" }],
  });
  const host = buildImage({ layers: [{ entries: busyboxEntries() }] });
  const index = buildIndex([arm, host]);
  await pushIndex(reg, "library/multi", "index", index);
  for (const [tag, built] of [
    ["oci", oci.manifest],
    ["docker", docker.manifest],
    ["index", index.index],
  ] as const) {
    const res = await getManifest(reg, "library/multi", tag);
    assert.equal(res.status, 200, tag);
    assert.equal(res.headers.get("docker-content-digest"), built.digest);
    assert.equal(res.headers.get("content-type"), built.mediaType);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), built.data);
  }
  const hostile = buildImage(hostileSpec("symlink-escape-layered", "/tmp/outside"));
  await pushImage(reg, "hostile/symlink", "latest", hostile);
  const blob = await fetch(`${reg.url}/v2/hostile/symlink/blobs/${hostile.layers[1]?.digest}`);
  assert.equal(blob.status, 200);
});

test("basic-auth registry: 401 with a Basic challenge without credentials, 200 with them", async (t) => {
  const reg = await privateRegistry(t, "basic");
  const anon = await getManifest(reg, "private/img", "v1");
  assert.equal(anon.status, 401);
  assert.match(anon.headers.get("www-authenticate") ?? "", /^Basic realm="sandboxd-test"/);
  const ok = await getManifest(reg, "private/img", "v1", reg.authorization("private/img"));
  assert.equal(ok.status, 200);
});

test("token-auth registry: Bearer challenge, token server refuses bad credentials", async (t) => {
  const reg = await privateRegistry(t, "token");
  const anon = await getManifest(reg, "private/img", "v1");
  assert.equal(anon.status, 401);
  const challenge = anon.headers.get("www-authenticate") ?? "";
  assert.match(
    challenge,
    /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token",service="sandboxd-test-registry",scope="repository:private\/img:pull"/,
  );
  const realm = /realm="([^"]+)"/.exec(challenge)?.[1] ?? "";
  const bad = await fetch(
    `${realm}?service=sandboxd-test-registry&scope=repository:private/img:pull`,
    {
      headers: { authorization: `Basic ${Buffer.from("tester:wrong").toString("base64")}` },
    },
  );
  assert.equal(bad.status, 401);
  const good = await fetch(
    `${realm}?service=sandboxd-test-registry&scope=repository:private/img:pull`,
    {
      headers: {
        authorization: `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString("base64")}`,
      },
    },
  );
  const { token } = (await good.json()) as { token: string };
  const ok = await getManifest(reg, "private/img", "v1", `Bearer ${token}`);
  assert.equal(ok.status, 200);
});
