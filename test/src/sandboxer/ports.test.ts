// Host ports of CRI pods through the CNI portmap plugin: an httpd in a pod answers
// on 127.0.0.1:<hostPort>, and the iptables rules portmap made are gone when the
// pod is shut down, also when the sandboxer was killed (-9) and restarted between.
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  PodSandboxConfigSchema,
  Protocol,
  type PortMappingSchema,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import { bundle, fifos, sandboxerFixture, type Fixture } from "./helpers.js";
import { dropNatRules, fetchLocal, freePort, natRulesOf } from "./hostports.js";

function podOptions(name: string, ports: MessageInitShape<typeof PortMappingSchema>[]) {
  const config = create(PodSandboxConfigSchema, {
    metadata: { name, uid: `uid-${name}`, namespace: "ports" },
    hostname: name,
    portMappings: ports,
  });
  return {
    typeUrl: "runtime.v1.PodSandboxConfig",
    value: toBinary(PodSandboxConfigSchema, config),
  };
}

/** CNI ids whose rules a test may have left (dropped by `cleanRules` in its finally). */
const seen = new Set<string>();

async function cleanRules(): Promise<void> {
  for (const id of seen) await dropNatRules(id);
  seen.clear();
}

async function cniIdOf(f: Fixture, id: string): Promise<string> {
  const rec = JSON.parse(
    await readFile(join(f.sbx.stateDir, "sandboxes", "default", id, "sandbox.json"), "utf8"),
  ) as { network?: { containerId: string }; portMappings?: unknown[] };
  assert.ok(rec.network?.containerId, "the pod's CNI container id is recorded");
  assert.equal(rec.portMappings?.length, 1, "the host ports are recorded with the pod");
  seen.add(rec.network.containerId);
  return rec.network.containerId;
}

test("hostPort: an httpd in a pod answers on 127.0.0.1:<hostPort>; shutdown removes the rules, also after kill -9 and restart", async (t) => {
  // The host reaches the pod through the bridge's gateway address.
  const f = await sandboxerFixture(t, { isGateway: true });
  t.after(cleanRules);
  const ctl = f.controller();
  const tasks = f.tasks();
  const webPort = await freePort();
  const otherPort = await freePort();

  await ctl.create({
    sandboxId: "web",
    options: podOptions("web", [
      { protocol: Protocol.TCP, containerPort: 8080, hostPort: webPort },
    ]),
  });
  await ctl.start({ sandboxId: "web" });
  const webCni = await cniIdOf(f, "web");
  assert.ok((await natRulesOf(webCni)).length > 0, "portmap made DNAT rules for the pod");

  const www = join(f.dir, "www");
  await mkdir(www, { recursive: true });
  await writeFile(join(www, "index.html"), "through the host port\n");
  const io = await fifos(f, "server");
  const b = await bundle(f, "server", {
    args: ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"],
    sandboxId: "web",
    mounts: [{ destination: "/www", type: "bind", source: www, options: ["rbind", "ro"] }],
  });
  await tasks.create({ id: "server", bundle: b, stdout: io.stdout, stderr: io.stderr });
  await tasks.start({ id: "server" });
  assert.equal(await fetchLocal(webPort, "/index.html"), "through the host port\n");

  // A second pod whose rules must outlive a kill -9 of the sandboxer and then be removed.
  await ctl.create({
    sandboxId: "other",
    options: podOptions("other", [
      { protocol: Protocol.UDP, containerPort: 53, hostPort: otherPort, hostIp: "127.0.0.1" },
    ]),
  });
  await ctl.start({ sandboxId: "other" });
  const otherCni = await cniIdOf(f, "other");
  const otherRules = await natRulesOf(otherCni);
  assert.ok(
    otherRules.some((r) => r.includes(`--dports ${otherPort}`) && r.includes("-p udp")),
    `a udp DNAT rule for ${otherPort}: ${otherRules.join("\n")}`,
  );

  await ctl.stop({ sandboxId: "web", timeoutSecs: 0 });
  await ctl.shutdown({ sandboxId: "web" });
  assert.deepEqual(await natRulesOf(webCni), [], "the web pod's rules are gone");
  assert.ok((await natRulesOf(otherCni)).length > 0, "the other pod's rules are untouched");

  await f.sbx.restart();
  await f.reconnect();
  const ctl2 = f.controller();
  assert.equal((await ctl2.status({ sandboxId: "other" })).state, "SANDBOX_READY");
  await ctl2.shutdown({ sandboxId: "other" });
  assert.deepEqual(await natRulesOf(otherCni), [], "the other pod's rules are gone after restart");
  await f.checkLeaks();
});

test("hostPort: two sandboxer instances with the same pod id get distinct CNI ids and rules", async (t) => {
  const [a, b] = await Promise.all([sandboxerFixture(t), sandboxerFixture(t)]);
  t.after(cleanRules);
  const [pa, pb] = [await freePort(), await freePort()];
  for (const [f, port] of [
    [a, pa],
    [b, pb],
  ] as const) {
    const ctl = f.controller();
    await ctl.create({
      sandboxId: "same",
      options: podOptions("same", [{ protocol: Protocol.TCP, containerPort: 80, hostPort: port }]),
    });
    await ctl.start({ sandboxId: "same" });
  }
  const [ida, idb] = [await cniIdOf(a, "same"), await cniIdOf(b, "same")];
  assert.notEqual(ida, idb);
  await a.controller().shutdown({ sandboxId: "same" });
  assert.deepEqual(await natRulesOf(ida), []);
  assert.ok((await natRulesOf(idb)).length > 0, "b's rules survive a's shutdown");
  await b.controller().shutdown({ sandboxId: "same" });
  assert.deepEqual(await natRulesOf(idb), []);
  await a.checkLeaks();
  await b.checkLeaks();
});
