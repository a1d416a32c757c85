// sbx-sandboxer's stop (SIGTERM): with a pod running, the instance's pin
// mount, bridge and cgroup parent stay (the pod keeps running and is picked
// up again); once no pod is left, a stop removes them: nothing is left.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { cgroupMounts } from "@sandboxd/testing";
import { sandboxerFixture } from "./helpers.js";

async function left(f: Awaited<ReturnType<typeof sandboxerFixture>>): Promise<string[]> {
  const out: string[] = [];
  const pinRoot = join(f.sbx.stateDir, "ns");
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  if (mountinfo.split("\n").some((l) => l.split(" ")[4] === pinRoot)) out.push(`mount ${pinRoot}`);
  if (existsSync(`/sys/class/net/${f.sbx.bridge}`)) out.push(`bridge ${f.sbx.bridge}`);
  for (const h of await cgroupMounts()) {
    if (existsSync(join(h, f.sbx.cgroupParent))) out.push(`cgroup ${join(h, f.sbx.cgroupParent)}`);
  }
  return out;
}

test("a stop with a pod running keeps pin mount, bridge and cgroup; a clean stop leaves nothing", async (t) => {
  const f = await sandboxerFixture(t);
  const ctl = f.controller();
  await ctl.create({
    sandboxId: "web",
    sandbox: { sandboxId: "web", runtime: { name: "io.containerd.sbx.v1" } },
  });
  await ctl.start({ sandboxId: "web" });
  const before = await left(f);
  assert.ok(
    before.some((x) => x.startsWith("mount")),
    `pin mount while running: ${before.join(", ")}`,
  );
  assert.ok(
    before.some((x) => x.startsWith("bridge")),
    `bridge while running: ${before.join(", ")}`,
  );

  await f.sbx.kill("SIGTERM");
  assert.equal(f.sbx.process.exitCode, 0, await f.sbx.log());
  assert.deepEqual(await left(f), before, "a stop with a pod running keeps the instance's set-up");

  await f.sbx.restart();
  await f.reconnect();
  const again = f.controller();
  assert.equal((await again.status({ sandboxId: "web" })).state, "SANDBOX_READY");
  await again.shutdown({ sandboxId: "web" });
  await f.sbx.kill("SIGTERM");
  assert.equal(f.sbx.process.exitCode, 0, await f.sbx.log());
  assert.deepEqual(await left(f), [], "a clean stop leaves nothing");
});
