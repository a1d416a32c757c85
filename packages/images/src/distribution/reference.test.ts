import assert from "node:assert/strict";
import { test } from "node:test";
import { isInvalidArgument } from "@sandboxd/errdefs";
import { parseChallenges } from "./auth.js";
import { defaultHosts } from "./client.js";
import { formatReference, parseReference } from "./reference.js";
import { parsePlatform, platformRank } from "./platforms.js";

test("references normalise like Docker's and keep their upstream form", () => {
  const cases: [string, string][] = [
    ["busybox", "docker.io/library/busybox:latest"],
    ["user/app:1", "docker.io/user/app:1"],
    ["index.docker.io/library/redis:7", "docker.io/library/redis:7"],
    ["registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"],
    ["127.0.0.1:5000/library/busybox", "127.0.0.1:5000/library/busybox:latest"],
    ["localhost/x@sha256:" + "a".repeat(64), "localhost/x@sha256:" + "a".repeat(64)],
    [
      "gcr.io/k8s-staging-cri-tools/test-image-latest:latest",
      "gcr.io/k8s-staging-cri-tools/test-image-latest:latest",
    ],
  ];
  for (const [input, want] of cases)
    assert.equal(formatReference(parseReference(input)), want, input);
  for (const bad of ["", "x/UPPER", "x:", "a/b@sha256:zz", "a//b", "x:bad tag"]) {
    assert.throws(() => parseReference(bad), isInvalidArgument, bad);
  }
});

test("platforms: host-compatible candidates rank, exact first; attestations never match", () => {
  const amd64 = parsePlatform("linux/amd64");
  assert.equal(platformRank(amd64, { os: "linux", architecture: "amd64" }), 0);
  assert.equal(platformRank(amd64, { os: "linux", architecture: "386" }), 2);
  assert.equal(platformRank(amd64, { os: "linux", architecture: "arm64" }), undefined);
  assert.equal(platformRank(amd64, { os: "unknown", architecture: "unknown" }), undefined);
  const arm64 = parsePlatform("linux/aarch64");
  assert.deepEqual(arm64, { os: "linux", architecture: "arm64" });
  assert.equal(platformRank(arm64, { os: "linux", architecture: "arm64", variant: "v8" }), 0);
  assert.ok((platformRank(arm64, { os: "linux", architecture: "arm", variant: "v7" }) ?? 0) > 0);
  assert.equal(
    platformRank(parsePlatform("linux/arm/v6"), {
      os: "linux",
      architecture: "arm",
      variant: "v7",
    }),
    undefined,
  );
  assert.throws(() => parsePlatform("linux/amd64/v2/x"), isInvalidArgument);
});

test("WWW-Authenticate challenges parse with quoted, escaped and comma-laden values", () => {
  const parsed = parseChallenges(
    'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push", Basic realm="x\\"y"',
  );
  assert.deepEqual(parsed, [
    {
      scheme: "bearer",
      params: {
        realm: "https://auth.example/token",
        service: "registry.example",
        scope: "repository:a/b:pull,push",
      },
    },
    { scheme: "basic", params: { realm: 'x"y' } },
  ]);
});

test("plain HTTP only for loopback by default; docker.io goes to registry-1", () => {
  assert.equal(defaultHosts("127.0.0.1:5000")[0]?.scheme, "http");
  assert.equal(defaultHosts("localhost:5000")[0]?.scheme, "http");
  assert.equal(defaultHosts("registry.k8s.io")[0]?.scheme, "https");
  assert.equal(defaultHosts("docker.io")[0]?.host, "registry-1.docker.io");
});
