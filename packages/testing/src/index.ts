export { createCleanup } from "./cleanup.js";
export type { Cleanup } from "./cleanup.js";
export { tempDir } from "./temp-dir.js";
export type { AfterHook } from "./temp-dir.js";
export { waitUntil } from "./wait-until.js";
export type { WaitUntilOptions } from "./wait-until.js";
export { requireBinary, requirePodRuntime, requireRoot } from "./requirements.js";
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
export { registryBinary, startRegistry } from "./registry.js";
export type { Registry, RegistryAuth, RegistryOptions } from "./registry.js";
export { tar } from "./registry-tar.js";
export type { TarEntry, TarEntryType } from "./registry-tar.js";
export {
  blob,
  buildImage,
  buildIndex,
  buildLayer,
  busyboxEntries,
  hostPlatform,
  hostileSpec,
  mediaTypes,
  multiLayerSpec,
  sha256,
} from "./registry-images.js";
export type {
  Blob,
  BuiltImage,
  BuiltIndex,
  Compression,
  HostileKind,
  ImageConfigSpec,
  ImageFormat,
  ImageSpec,
  Layer,
  LayerSpec,
  Platform,
} from "./registry-images.js";
export { pushBlob, pushImage, pushIndex, pushManifest } from "./registry-push.js";
export { startFaultProxy } from "./registry-proxy.js";
export type { FaultAction, FaultProxy, ProxiedRequest } from "./registry-proxy.js";
export { harnessCall } from "./registry-http.js";
export {
  createNetns,
  criFifos,
  criLogger,
  encodePodSandboxConfig,
  overlaySnapshot,
  podSandboxConfigTypeUrl,
  removeNetns,
  withPodNamespaces,
  writeLayerFile,
} from "./cri-pod.js";
export type {
  CriFifos,
  CriNamespaceMode,
  PodSandboxConfigInput,
  SnapshotMount,
} from "./cri-pod.js";
export { busyboxRootfs } from "./rootfs.js";
export { readmeExamples, runExample } from "./readme-examples.js";
export type { Example, RunExampleOptions } from "./readme-examples.js";
export { openStack, startStack } from "./stack.js";
export { removeContainersUnder, shutdownLeftPods } from "./stack-cleanup.js";
export { proxySandboxerName, proxyStackDirs, startProxyStack } from "./proxy-stack.js";
export type { ProxyStack, ProxyStackOptions } from "./proxy-stack.js";
export type { SandboxerMode, Stack, StackOptions } from "./stack.js";
