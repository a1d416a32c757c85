// `sbx run`'s seccomp: containerd's RuntimeDefault profile by default (as nerdctl
// and podman), computed for the container's final capabilities (--cap-add
// SYS_ADMIN lets unshare through), and `--security-opt seccomp=unconfined`,
// `seccomp=PROFILE.json`, `no-new-privileges=false`. Real sbx, sandboxd,
// sbx-sandboxer, runc and docker-registry. Root.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { buildImage, busyboxEntries, pushImage, startRegistry } from "@sandboxd/testing";
import { assertEmpty, setupSbx } from "./harness.js";

/** The value of a /proc/self/status field, with shell builtins only. */
const statusField = (field: string) =>
  `while read k v; do [ "$k" = ${field}: ] && echo $v; done < /proc/self/status; true`;

test("sbx run: RuntimeDefault seccomp by default, --security-opt to change it", async (t) => {
  const { sbx, client, daemon } = await setupSbx(t);
  const reg = await startRegistry(t);
  const image = await pushImage(
    reg,
    "cli/seccomp",
    "v1",
    buildImage({
      config: { Cmd: ["sh"], Env: ["PATH=/bin"] },
      layers: [{ compression: "gzip", entries: busyboxEntries() }],
    }),
  );
  const pulled = await sbx(["pull", image]);
  assert.equal(pulled.status, 0, pulled.stderr);
  const run = (...args: string[]) => sbx(["run", "--rm", ...args]);

  await t.test("the default is a seccomp filter (mode 2); unconfined is none", async () => {
    const filtered = await run(image, "sh", "-c", statusField("Seccomp"));
    assert.equal(filtered.status, 0, filtered.stderr);
    assert.equal(filtered.stdout, "2\n");
    const none = await run(
      "--security-opt",
      "seccomp=unconfined",
      image,
      "sh",
      "-c",
      statusField("Seccomp"),
    );
    assert.equal(none.status, 0, none.stderr);
    assert.equal(none.stdout, "0\n");
  });

  await t.test("the profile follows --cap-add: SYS_ADMIN may unshare", async () => {
    const denied = await run(image, "busybox", "unshare", "-u", "true");
    assert.notEqual(denied.status, 0, "no CAP_SYS_ADMIN, no unshare");
    const allowed = await run("--cap-add", "SYS_ADMIN", image, "busybox", "unshare", "-u", "true");
    assert.equal(allowed.status, 0, `the profile allows unshare with SYS_ADMIN: ${allowed.stderr}`);
  });

  await t.test("seccomp=PROFILE.json: the node's own profile", async () => {
    const profile = join(daemon.dir, "no-uname.json");
    await writeFile(
      profile,
      JSON.stringify({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["uname"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
      }),
    );
    const r = await run("--security-opt", `seccomp=${profile}`, image, "busybox", "uname");
    // busybox prints what uname(2) filled in: nothing once the profile refuses the call.
    assert.equal(r.stdout.trim(), "", `uname(2) is refused by the profile: ${r.stderr}`);
    const ok = await run(image, "busybox", "uname");
    assert.equal(ok.stdout, "Linux\n", ok.stderr);
  });

  await t.test("no-new-privileges=false clears the flag the default sets", async () => {
    const on = await run(image, "sh", "-c", statusField("NoNewPrivs"));
    assert.equal(on.stdout, "1\n", on.stderr);
    const off = await run(
      "--security-opt",
      "no-new-privileges=false",
      image,
      "sh",
      "-c",
      statusField("NoNewPrivs"),
    );
    assert.equal(off.stdout, "0\n", off.stderr);
  });

  await t.test(
    "a missing or unknown option is refused naming it, before anything is made",
    async () => {
      const missing = await run("--security-opt", "seccomp=/nonexistent/p.json", image, "true");
      assert.notEqual(missing.status, 0);
      assert.match(missing.stderr, /seccomp profile "\/nonexistent\/p\.json" does not exist/);
      const unknown = await run("--security-opt", "apparmor=foo", image, "true");
      assert.notEqual(unknown.status, 0);
      assert.match(unknown.stderr, /--security-opt "apparmor=foo" is not supported/);
      await assertEmpty(client);
    },
  );
});
