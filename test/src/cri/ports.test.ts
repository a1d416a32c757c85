// CRI hostPort (critest "should support port mapping with host port"): a pod's
// port_mappings reach busybox httpd in it through 127.0.0.1:<hostPort>, and the
// iptables rules go with the pod, also when the sandboxer was killed and restarted.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Protocol } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { isUnavailable } from "@sandboxd/errdefs";
import { containerConfig, openCri, podConfig, runContainer, type CriWorld } from "./harness.js";
import { dropNatRules, fetchLocal, freePort, natRulesOf } from "../sandboxer/hostports.js";

let w: CriWorld;
const cniIds: string[] = [];
before(async () => {
  w = await openCri({ isGateway: true });
});
after(async () => {
  await w?.close();
  for (const id of cniIds) await dropNatRules(id);
});

/** Waits (generously) until a unix socket accepts connections: the restarted sandboxer's task API. */
async function socketAccepts(path: string): Promise<void> {
  const until = Date.now() + 60_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(path, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`${path} never accepted a connection`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function cniIdOf(podId: string): Promise<string> {
  const file = join(w.sandboxer.stateDir, "sandboxes", "k8s.io", podId, "sandbox.json");
  const rec = JSON.parse(await readFile(file, "utf8")) as { network?: { containerId: string } };
  assert.ok(rec.network?.containerId, "the pod's CNI container id is recorded");
  cniIds.push(rec.network.containerId);
  return rec.network.containerId;
}

/** A pod with one host port and httpd serving the pod's /etc on container port 80. */
async function webPod(name: string, hostPort: number) {
  const pod = podConfig(w, name, {
    hostname: name,
    portMappings: [{ protocol: Protocol.TCP, containerPort: 80, hostPort }],
  });
  const ids = await runContainer(
    w,
    pod,
    containerConfig(w, "httpd", ["/bin/httpd", "-f", "-p", "80", "-h", "/etc"]),
  );
  return { ...ids, cniId: await cniIdOf(ids.podId) };
}

test("hostPort: httpd in a pod answers on 127.0.0.1:<hostPort>; RemovePodSandbox removes the rules", async () => {
  const port = await freePort();
  const { podId, cniId } = await webPod("web", port);
  assert.ok((await natRulesOf(cniId)).length > 0, "portmap made rules");
  assert.equal((await fetchLocal(port, "/hostname")).trim(), "web");
  await w.rt.stopPodSandbox({ podSandboxId: podId });
  assert.deepEqual(await natRulesOf(cniId), [], "StopPodSandbox removed the rules");
  await w.rt.removePodSandbox({ podSandboxId: podId });
  assert.deepEqual(await natRulesOf(cniId), []);
});

test("hostPort: after kill -9 and restart of the sandboxer, the port still answers and RemovePodSandbox removes the rules", async () => {
  const port = await freePort();
  const { podId, cniId } = await webPod("again", port);
  assert.equal((await fetchLocal(port, "/hostname")).trim(), "again");
  await w.sandboxer.restart();
  await socketAccepts(w.sandboxer.taskSocket);
  assert.equal((await fetchLocal(port, "/hostname")).trim(), "again");
  // sandboxd reconnects to the restarted sandboxer's task API in the background;
  // until then calls fail Unavailable and kubelet retries them, as this does.
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      await w.rt.removePodSandbox({ podSandboxId: podId });
      break;
    } catch (err) {
      if (!isUnavailable(err) || Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  assert.deepEqual(await natRulesOf(cniId), [], "the rules are gone");
});
