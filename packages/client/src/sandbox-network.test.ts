// The hand-encoded PodSandboxConfig read back with the CRI's generated schema: what the
// sandboxer (and its CNI portmap) will find in Create's options.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import {
  NamespaceMode,
  PodSandboxConfigSchema,
  Protocol,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import { isInvalidArgument } from "@sandboxd/errdefs";
import { checkSandboxNetwork, podNetworkAnnotation, podNetworkConfig } from "./sandbox-network.js";

test("port mappings and host network in CRI's PodSandboxConfig shape", () => {
  const any = podNetworkConfig("web", "ns1", "bridge", [
    { containerPort: 80, hostPort: 8080 },
    { protocol: "udp", containerPort: 53, hostPort: 5353, hostIp: "127.0.0.1" },
  ]);
  assert.equal(any.typeUrl, "runtime.v1.PodSandboxConfig");
  const c = fromBinary(PodSandboxConfigSchema, any.value);
  assert.equal(c.metadata?.name, "web");
  assert.equal(c.metadata?.namespace, "ns1");
  assert.deepEqual(
    c.portMappings.map((p) => [p.protocol, p.containerPort, p.hostPort, p.hostIp]),
    [
      [Protocol.TCP, 80, 8080, ""],
      [Protocol.UDP, 53, 5353, "127.0.0.1"],
    ],
  );
  const ns = c.linux?.securityContext?.namespaceOptions;
  assert.equal(ns?.network, NamespaceMode.POD);
  assert.equal(ns?.pid, NamespaceMode.CONTAINER, "no shared pid namespace");
  assert.deepEqual(c.annotations, {});

  const host = fromBinary(PodSandboxConfigSchema, podNetworkConfig("h", "n", "host", []).value);
  assert.equal(host.linux?.securityContext?.namespaceOptions?.network, NamespaceMode.NODE);
  const none = fromBinary(PodSandboxConfigSchema, podNetworkConfig("o", "n", "none", []).value);
  assert.deepEqual(none.annotations, { [podNetworkAnnotation]: "none" });
  assert.equal(none.linux?.securityContext?.namespaceOptions?.network, NamespaceMode.POD);
});

test("network and ports are checked together", () => {
  const refused = (f: () => void, re: RegExp) =>
    assert.throws(f, (err) => isInvalidArgument(err) && re.test(String(err)));
  refused(
    () => checkSandboxNetwork("a", "host", [{ containerPort: 80, hostPort: 80 }]),
    /port mappings need the sandbox's own network, not network host/,
  );
  refused(
    () => checkSandboxNetwork("a", undefined, [{ containerPort: 0, hostPort: 80 }]),
    /container port 0 is not a port/,
  );
  refused(
    () => checkSandboxNetwork("a", "overlay" as "host", []),
    /network "overlay": use bridge, host or none/,
  );
});
