// `sbx run -p`: host ports forwarded to busybox httpd in the container through the
// sandbox's CNI portmap (sbx sends them as PodSandboxConfig.port_mappings), both
// `HOST:CTR` and `127.0.0.1:HOST:CTR`; the forwarding rules go with the container (--rm).
// Real sbx, sandboxd, sbx-sandboxer, CNI plugins, iptables and docker-registry. Root.
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import {
  buildImage,
  busyboxEntries,
  pushImage,
  run,
  startRegistry,
  waitUntil,
} from "@sandboxd/testing";
import { assertEmpty, setupSbx } from "./harness.js";

/** A port nothing listens on now (the kernel's pick, released again). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address && typeof address === "object");
  return address.port;
}

/** The body at `url`, or undefined while nothing answers. */
async function body(url: string): Promise<string | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return r.ok ? await r.text() : undefined;
  } catch {
    return undefined;
  }
}

async function natRules(): Promise<string> {
  return (await run("iptables-save", ["-t", "nat"])).stdout.toString();
}

test("sbx run -p: HOST:CTR and IP:HOST:CTR reach httpd; the rules go with --rm", async (t) => {
  // The host reaches pod addresses through the bridge's gateway address (portmap's DNAT).
  const { start, sbx, client, daemon } = await setupSbx(t, "cli-it", {
    sandboxerOptions: { isGateway: true },
  });
  const reg = await startRegistry(t);
  const image = await pushImage(
    reg,
    "cli/httpd",
    "v1",
    buildImage({
      config: { Cmd: ["sh"], Env: ["PATH=/bin"] },
      layers: [{ compression: "gzip", entries: busyboxEntries() }],
    }),
  );
  const www = join(daemon.dir, "www");
  await mkdir(www);
  await writeFile(join(www, "index.html"), "hello from httpd\n");
  const [any, local] = [await freePort(), await freePort()];

  const running = start(
    [
      "run",
      "--rm",
      "--name",
      "pub",
      "-p",
      `${any}:80`,
      "-p",
      `127.0.0.1:${local}:8080/tcp`,
      "-v",
      `${www}:/www:ro`,
      image,
      "sh",
      "-c",
      "httpd -p 80 -h /www && exec httpd -f -p 8080 -h /www",
    ],
    undefined,
    180_000,
  );
  try {
    for (const port of [any, local]) {
      const got = await waitUntil(() => body(`http://127.0.0.1:${port}/`), {
        timeoutMs: 60_000,
        intervalMs: 200,
        what: `httpd through host port ${port}`,
      });
      assert.equal(got, "hello from httpd\n");
    }
    const rules = await natRules();
    assert.match(rules, new RegExp(`--dport ${any}\\b`), "a DNAT rule for the host port");
    assert.match(rules, new RegExp(`--dport ${local}\\b`), "and for the 127.0.0.1 one");
  } finally {
    const kill = await sbx(["task", "kill", "-s", "KILL", "pub"]);
    assert.equal(kill.status, 0, kill.stderr);
  }
  const done = await running.done;
  assert.equal(done.status, 137, done.stderr);
  const after = await natRules();
  assert.doesNotMatch(after, new RegExp(`--dport (${any}|${local})\\b`), "rules removed");
  assert.equal(await body(`http://127.0.0.1:${any}/`), undefined);
  await assertEmpty(client);
});
