export { createCleanup } from "./cleanup.js";
export type { Cleanup } from "./cleanup.js";
export { tempDir } from "./temp-dir.js";
export type { AfterHook } from "./temp-dir.js";
export { waitUntil } from "./wait-until.js";
export type { WaitUntilOptions } from "./wait-until.js";
export { requireBinary, requireRoot } from "./requirements.js";
export { killAndWait, processAlive, run, waitForExit } from "./processes.js";
export type { RunOptions, RunResult } from "./processes.js";
export { mountsUnder, unmountAll } from "./mounts.js";
export { ociSpec, writeBundleSpec } from "./oci-spec.js";
export type { OciSpec, OciSpecOptions } from "./oci-spec.js";
export { containerdBinary, ctrBinary, killShimsOf, runCtr, startContainerd } from "./containerd.js";
export type { Containerd, ContainerdOptions, CtrResult } from "./containerd.js";
export {
  binDir,
  cgroupMounts,
  cleanupSandboxerInstance,
  repoRoot,
  sandboxerBin,
  sbxShimBin,
  startSandboxer,
  writeSandboxerConfig,
} from "./sandboxer.js";
export type { RunningSandboxer, SandboxerConfig, SandboxerConfigOptions } from "./sandboxer.js";
export { assertNoLeaks, diffLeaks, snapshotLeaks } from "./leaks.js";
export type { LeakScope, LeakSnapshot } from "./leaks.js";
export { sandboxdBinary, sandboxdPaths, startSandboxd } from "./sandboxd.js";
export type { Sandboxd, SandboxdOptions } from "./sandboxd.js";
export { busyboxRootfs } from "./rootfs.js";
export { openStack, startStack } from "./stack.js";
export type { Stack, StackOptions } from "./stack.js";
