import assert from "node:assert/strict";
import { test } from "node:test";
import { etcMounts, hostsContent, podResolvConf } from "./etc-files.js";

test("/etc/hosts names the pod at its address", () => {
  const hosts = hostsContent("pod1", "10.88.0.4");
  assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
  assert.match(hosts, /^10\.88\.0\.4\tpod1$/m);
  assert.match(hostsContent("pod2", undefined), /^127\.0\.1\.1\tpod2$/m);
});

test("resolv.conf drops loopback resolvers a pod cannot reach", () => {
  assert.equal(
    podResolvConf("nameserver 127.0.0.53\nnameserver 1.1.1.1\nsearch example.com\n"),
    "nameserver 1.1.1.1\nsearch example.com\n",
  );
  assert.equal(podResolvConf("nameserver ::1\n"), "");
});

test("pod files are bind-mounted where the spec mounts nothing", () => {
  const files = { hosts: "/e/hosts", hostname: "/e/hostname", resolvConf: "/e/resolv.conf" };
  const mounts = etcMounts(files, [{ destination: "/etc/hostname/" }]);
  assert.deepEqual(
    mounts.map((m) => [m.destination, m.source, m.options?.join(",")]),
    [
      ["/etc/hosts", "/e/hosts", "rbind,rprivate,rw"],
      ["/etc/resolv.conf", "/e/resolv.conf", "rbind,rprivate,rw"],
    ],
  );
});
