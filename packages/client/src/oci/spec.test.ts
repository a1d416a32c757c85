import { test } from "node:test";
import assert from "node:assert/strict";
import { JsonTypeUrl } from "@sandboxd/api";
import {
  DEFAULT_CAPABILITIES,
  DEFAULT_PATH_ENV,
  defaultSpec,
  execProcess,
  mergeEnv,
  packSpec,
  unpackSpec,
  withAddedCapabilities,
  withAnnotations,
  withEnv,
  withHostNamespace,
  withMemoryLimit,
  withMounts,
  withNamespace,
  withRootfs,
  withTerminal,
} from "./spec.js";

test("defaultSpec has containerd's defaults", () => {
  const spec = defaultSpec();
  assert.equal(spec.ociVersion, "1.1.0");
  assert.deepEqual(spec.process?.args, ["sh"]);
  assert.deepEqual(spec.process?.env, [DEFAULT_PATH_ENV]);
  assert.equal(spec.process?.cwd, "/");
  assert.equal(spec.process?.noNewPrivileges, true);
  assert.deepEqual(spec.process?.user, { uid: 0, gid: 0 });
  assert.deepEqual(spec.process?.capabilities?.bounding, [...DEFAULT_CAPABILITIES]);
  assert.deepEqual(spec.root, { path: "rootfs", readonly: false });
  assert.deepEqual(
    spec.linux?.namespaces?.map((n) => n.type),
    ["pid", "ipc", "uts", "mount", "network"],
  );
  assert.deepEqual(
    spec.mounts?.map((m) => m.destination),
    ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/run"],
  );
  assert.ok(spec.linux?.maskedPaths?.includes("/proc/kcore"));
  assert.ok(spec.linux?.readonlyPaths?.includes("/proc/sys"));
  assert.deepEqual(spec.linux?.resources?.devices, [{ allow: false, access: "rwm" }]);
  assert.equal(spec.hostname, undefined);
  assert.equal(spec.linux?.cgroupsPath, undefined);
});

test("defaultSpec takes the common inputs", () => {
  const spec = defaultSpec({
    id: "web",
    namespace: "prod",
    args: ["httpd", "-f"],
    env: ["A=1", "PATH=/bin"],
    cwd: "/srv",
    terminal: true,
    rootfs: "/var/lib/rootfs",
    hostname: "web-1",
    readonlyRootfs: true,
  });
  assert.deepEqual(spec.process?.args, ["httpd", "-f"]);
  assert.deepEqual(spec.process?.env, ["PATH=/bin", "A=1"]);
  assert.equal(spec.process?.cwd, "/srv");
  assert.equal(spec.process?.terminal, true);
  assert.deepEqual(spec.root, { path: "/var/lib/rootfs", readonly: true });
  assert.equal(spec.hostname, "web-1");
  assert.equal(spec.linux?.cgroupsPath, "/prod/web");
});

test("defaultSpec returns independent copies", () => {
  const a = defaultSpec();
  a.process!.capabilities!.bounding!.push("CAP_SYS_ADMIN");
  a.mounts!.pop();
  const b = defaultSpec();
  assert.deepEqual(b.process?.capabilities?.bounding, [...DEFAULT_CAPABILITIES]);
  assert.equal(b.mounts?.length, 7);
});

test("spec options apply in order", () => {
  const spec = defaultSpec(
    {},
    withEnv(["X=1"]),
    withEnv(["X=2", "PATH"]),
    withTerminal(true, { width: 80, height: 24 }),
    withRootfs("/r", { readonly: true }),
    withMounts([{ destination: "/run", type: "bind", source: "/tmp", options: ["rbind"] }]),
    withNamespace("network", "/run/netns/pod"),
    withHostNamespace("ipc"),
    withMemoryLimit(1 << 20),
    withAnnotations({ a: "b" }),
  );
  assert.deepEqual(spec.process?.env, ["X=2"]);
  assert.deepEqual(spec.process?.consoleSize, { width: 80, height: 24 });
  assert.deepEqual(spec.root, { path: "/r", readonly: true });
  assert.equal(spec.mounts?.filter((m) => m.destination === "/run").length, 1);
  assert.equal(spec.mounts?.at(-1)?.type, "bind");
  assert.deepEqual(
    spec.linux?.namespaces?.find((n) => n.type === "network"),
    { type: "network", path: "/run/netns/pod" },
  );
  assert.equal(
    spec.linux?.namespaces?.some((n) => n.type === "ipc"),
    false,
  );
  assert.equal(spec.linux?.resources?.memory?.limit, 1 << 20);
  assert.deepEqual(spec.annotations, { a: "b" });
});

test("mergeEnv replaces by key and removes bare keys", () => {
  assert.deepEqual(mergeEnv(["A=1", "B=2"], ["B=3", "C=4", "A"]), ["B=3", "C=4"]);
});

test("packSpec writes containerd's JSON Any and unpackSpec reads it", () => {
  const spec = defaultSpec({ args: ["true"] });
  const any = packSpec(spec);
  assert.equal(any.typeUrl, JsonTypeUrl.Spec);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(any.value)), spec);
  assert.deepEqual(unpackSpec(any), spec);
  assert.throws(() => unpackSpec({ ...any, typeUrl: "x" }), /not an OCI spec/);
});

test("execProcess copies the container's process with new args", () => {
  const spec = defaultSpec({ args: ["sleep", "inf"], env: ["A=1"], terminal: true });
  const p = execProcess(spec, { args: ["ls"], env: ["B=2"] });
  assert.deepEqual(p.args, ["ls"]);
  assert.deepEqual(p.env, [DEFAULT_PATH_ENV, "A=1", "B=2"]);
  assert.equal(p.terminal, false);
  assert.deepEqual(spec.process?.args, ["sleep", "inf"], "the container spec is not changed");
  assert.deepEqual(execProcess(undefined, { args: ["x"], cwd: "/tmp" }).cwd, "/tmp");
});

test("defaultSpec applies RuntimeDefault seccomp for the final capabilities", () => {
  const plain = defaultSpec();
  assert.equal(plain.linux?.seccomp?.defaultAction, "SCMP_ACT_ERRNO");
  const allowed = (s: ReturnType<typeof defaultSpec>) =>
    (s.linux?.seccomp?.syscalls ?? [])
      .filter((r) => r.action === "SCMP_ACT_ALLOW" && !r.args?.length)
      .flatMap((r) => r.names);
  assert.ok(!allowed(plain).includes("mount"));
  // An option adding CAP_SYS_ADMIN widens the profile computed after it.
  const admin = defaultSpec({}, withAddedCapabilities(["CAP_SYS_ADMIN"]));
  assert.ok(allowed(admin).includes("mount"));
  assert.ok(allowed(admin).includes("unshare"));
  assert.equal(defaultSpec({ seccomp: "unconfined" }).linux?.seccomp, undefined);
  const own = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [] };
  assert.deepEqual(defaultSpec({ seccomp: own }).linux?.seccomp, own);
});
