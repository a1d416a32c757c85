// `sbx pull` (the real executable) against a real sandboxd: plain progress lines when
// stdout is not a terminal, JSON lines with -o json, and registry.k8s.io names served by a
// local mirror through the daemon's hosts.toml config_path. Root.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  buildImage,
  multiLayerSpec,
  pushImage,
  requireRoot,
  startRegistry,
  startSandboxd,
  tempDir,
} from "@sandboxd/testing";

const execFileAsync = promisify(execFile);
const sbxBin = fileURLToPath(new URL("../../../packages/cli/bin/sbx", import.meta.url));

test("sbx pull: per-layer progress lines, -o json events, upstream names through a mirror", async (t) => {
  requireRoot("sandboxd runs as root");
  const reg = await startRegistry(t);
  const image = buildImage(multiLayerSpec("oci"));
  const name = await pushImage(reg, "library/busybox", "latest", image);
  await pushImage(reg, "pause", "3.10", image);
  const dir = await tempDir(t, "sbx-pull-");
  const certs = join(dir, "certs.d");
  await mkdir(join(certs, "registry.k8s.io"), { recursive: true });
  await writeFile(
    join(certs, "registry.k8s.io", "hosts.toml"),
    `server = "https://registry.k8s.io"\n[host."http://${reg.host}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
  const daemon = await startSandboxd({
    dir: join(dir, "d"),
    env: { SANDBOXD_REGISTRY_CONFIG_PATH: certs },
  });
  t.after(() => daemon.stop());
  const env = { ...process.env, SANDBOXD_ADDRESS: daemon.address, SANDBOXD_NAMESPACE: "default" };
  const sbx = (args: string[]) => execFileAsync(sbxBin, args, { env, timeout: 60_000 });

  const plain = await sbx(["pull", name]);
  const lines = plain.stdout.trimEnd().split("\n");
  assert.equal(lines[0], `${name}: resolving`);
  for (const layer of image.layers) {
    assert.ok(
      lines.some((l) => l.startsWith(`layer-${layer.digest.slice(0, 19)}: done`)),
      `a done line for ${layer.digest}:\n${plain.stdout}`,
    );
  }
  assert.match(
    lines.at(-1) ?? "",
    new RegExp(
      `^${name.replace(/[.]/g, "\\.")}: done in [\\d.]+ s \\(${image.manifest.digest}\\)$`,
    ),
  );
  assert.equal(plain.stdout.includes("\x1b"), false, "no terminal escapes when stdout is a pipe");

  const json = await sbx(["-o", "json", "pull", "registry.k8s.io/pause:3.10"]);
  const events = json.stdout
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as { kind: string; name: string; state: string });
  assert.equal(events[0]?.kind, "resolving");
  assert.deepEqual(events.at(-1)?.kind, "done");
  assert.equal(events.at(-1)?.name, "registry.k8s.io/pause:3.10");
  assert.ok(
    events.some((e) => e.kind === "blob" && e.state === "exists"),
    "layers already present are not fetched again",
  );

  const ctr = await daemon.ctr(["images", "ls", "-q"]);
  assert.deepEqual(
    ctr.stdout.trim().split("\n").sort(),
    [name, "registry.k8s.io/pause:3.10"].sort(),
  );
  await assert.rejects(
    sbx(["pull", `${reg.host}/library/nothing:here`]),
    (e: { code?: number; stderr?: string }) => {
      assert.notEqual(e.code, 0);
      assert.match(e.stderr ?? "", /not found/);
      return true;
    },
  );
});
