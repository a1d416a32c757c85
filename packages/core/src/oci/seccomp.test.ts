import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isInvalidArgument, isNotFound } from "@sandboxd/errdefs";
import { DEFAULT_CAPABILITIES } from "./defaults.js";
import { defaultSeccompProfile } from "./seccomp-profile.js";
import { loadSeccompProfile, runtimeDefaultSeccomp } from "./seccomp.js";
import type { LinuxSeccomp } from "./types.js";

const x64 = { arch: "x64", kernel: [6, 1] as [number, number] };
const allowedAlways = (p: LinuxSeccomp) =>
  new Set(
    (p.syscalls ?? [])
      .filter((s) => s.action === "SCMP_ACT_ALLOW" && !s.args?.length)
      .flatMap((s) => s.names),
  );

test("RuntimeDefault: EPERM by default, the x86_64 ABIs, the common syscalls allowed", () => {
  const p = defaultSeccompProfile(DEFAULT_CAPABILITIES, x64);
  assert.equal(p.defaultAction, "SCMP_ACT_ERRNO");
  assert.equal(p.defaultErrnoRet, 1);
  assert.deepEqual(p.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
  const ok = allowedAlways(p);
  for (const name of ["read", "write", "execve", "openat", "close_range", "arch_prctl"])
    assert.ok(ok.has(name), name);
  // kernel ≥ 4.8: ptrace is allowed without CAP_SYS_PTRACE.
  assert.ok(ok.has("ptrace"));
  for (const name of [
    "mount",
    "umount2",
    "unshare",
    "setns",
    "sethostname",
    "reboot",
    "bpf",
    "kexec_load",
  ])
    assert.ok(!ok.has(name), `${name} needs a capability`);
  // clone only without namespace flags; clone3 says ENOSYS so libcs fall back to clone.
  const clone = p.syscalls?.find((s) => s.names.includes("clone"));
  assert.deepEqual(clone?.args, [
    { index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" },
  ]);
  const clone3 = p.syscalls?.find((s) => s.names.includes("clone3"));
  assert.deepEqual(clone3, { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 });
  const personality = p.syscalls?.filter((s) => s.names.includes("personality"));
  assert.deepEqual(
    personality?.map((s) => s.args?.[0]?.value),
    [0, 8, 0x20000, 0x20008, 0xffffffff],
  );
  // socket: every family but AF_ALG (38) and AF_VSOCK (40).
  const socket = p.syscalls?.filter((s) => s.names.includes("socket")).map((s) => s.args?.[0]);
  assert.deepEqual(socket, [
    { index: 0, value: 38, op: "SCMP_CMP_LT" },
    { index: 0, value: 39, op: "SCMP_CMP_EQ" },
    { index: 0, value: 40, op: "SCMP_CMP_GT" },
  ]);
  // The default set has CAP_SYS_CHROOT, which allows chroot.
  assert.ok(ok.has("chroot"));
  assert.ok(!allowedAlways(defaultSeccompProfile([], x64)).has("chroot"));
});

test("RuntimeDefault widens with capabilities: CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_TIME", () => {
  const admin = defaultSeccompProfile([...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"], x64);
  const ok = allowedAlways(admin);
  for (const name of [
    "mount",
    "umount",
    "umount2",
    "unshare",
    "setns",
    "sethostname",
    "clone",
    "clone3",
  ])
    assert.ok(ok.has(name), name);
  assert.ok(!admin.syscalls?.some((s) => s.names.includes("clone") && s.args?.length));
  assert.ok(!admin.syscalls?.some((s) => s.action === "SCMP_ACT_ERRNO"));
  const ptrace = allowedAlways(defaultSeccompProfile(["CAP_SYS_PTRACE"], x64));
  for (const name of ["kcmp", "pidfd_getfd", "process_madvise"]) assert.ok(ptrace.has(name), name);
  assert.ok(allowedAlways(defaultSeccompProfile(["CAP_SYS_TIME"], x64)).has("settimeofday"));
  // Old kernels: ptrace only with CAP_SYS_PTRACE.
  assert.ok(
    !allowedAlways(defaultSeccompProfile([], { arch: "x64", kernel: [4, 4] })).has("ptrace"),
  );
});

test("RuntimeDefault on aarch64 and s390x", () => {
  const arm = defaultSeccompProfile([], { arch: "arm64", kernel: [6, 1] });
  assert.deepEqual(arm.architectures, ["SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64"]);
  assert.ok(allowedAlways(arm).has("set_tls"));
  assert.ok(!allowedAlways(arm).has("arch_prctl"));
  const s390 = defaultSeccompProfile([], { arch: "s390x", kernel: [6, 1] });
  assert.equal(s390.syscalls?.find((s) => s.names.includes("clone"))?.args?.[0]?.index, 1);
});

test("runtimeDefaultSeccomp: this host's architecture", () => {
  const p = runtimeDefaultSeccomp(DEFAULT_CAPABILITIES);
  if (process.arch === "x64") assert.equal(p.architectures?.[0], "SCMP_ARCH_X86_64");
  assert.ok((p.syscalls?.length ?? 0) > 5);
});

test("loadSeccompProfile: a JSON file; NotFound when missing, InvalidArgument when not JSON", async () => {
  const dir = await mkdtemp(join(tmpdir(), "sbx-seccomp-"));
  try {
    const good = join(dir, "good.json");
    await writeFile(good, JSON.stringify({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [] }));
    assert.equal((await loadSeccompProfile(good)).defaultAction, "SCMP_ACT_ALLOW");
    await assert.rejects(
      loadSeccompProfile(join(dir, "missing.json")),
      (e) => isNotFound(e) && /missing\.json/.test(String(e)),
    );
    const bad = join(dir, "bad.json");
    await writeFile(bad, "{not json");
    await assert.rejects(
      loadSeccompProfile(bad),
      (e) => isInvalidArgument(e) && /not JSON/.test(String(e)),
    );
    await writeFile(bad, JSON.stringify({ syscalls: [] }));
    await assert.rejects(loadSeccompProfile(bad), /defaultAction/);
    await writeFile(bad, "[]");
    await assert.rejects(loadSeccompProfile(bad), /not a JSON object/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
