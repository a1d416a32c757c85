import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { RuntimeInfoSchema } from "@sandboxd/api/types/introspection_pb";
import { featuresTypeUrl, runcFeatures, runtimeInfo } from "./runtime-info.js";

test("-info carries runc's features, so containerd's CRI can advertise rro mounts", async (t) => {
  if (!existsSync("/usr/sbin/runc")) return t.skip("runc is not installed");
  const features = await runcFeatures("/usr/sbin/runc");
  assert.ok(features);
  const info = fromBinary(
    RuntimeInfoSchema,
    runtimeInfo("io.containerd.sbx.v1", "1.2.3", features),
  );
  assert.equal(info.name, "io.containerd.sbx.v1");
  assert.equal(info.version?.version, "1.2.3");
  assert.equal(info.features?.typeUrl, featuresTypeUrl);
  const parsed = JSON.parse(new TextDecoder().decode(info.features?.value)) as {
    mountOptions?: string[];
  };
  assert.ok(parsed.mountOptions?.includes("rro"));
});

test("without a working runc the answer still names the runtime", () => {
  const info = fromBinary(RuntimeInfoSchema, runtimeInfo("io.containerd.sbx.v1", "1", undefined));
  assert.equal(info.name, "io.containerd.sbx.v1");
  assert.equal(info.features, undefined);
});
