// The CRI conformance suite's world: a real sbx-sandboxer (proxy plugin
// "sbx") and a real sandboxd whose config carries containerd 2.x's CRI keys,
// a runtime.v1 client on sandboxd's main socket, a busybox rootfs standing in
// for an image, and helpers shaped like critest's (pod/container configs).
// Everything is removed after the file: pods through the CRI, then the
// processes, then the directory; no process mentioning it may remain.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  ContainerConfigSchema,
  PodSandboxConfigSchema,
  RuntimeService,
  type ContainerConfig,
  type PodSandboxConfig,
} from "@sandboxd/api/cri/runtime/v1/api_pb";
import { Channel, type Client } from "@sandboxd/grpc";
import {
  proxyStackDirs,
  startProxyStack,
  type RunningSandboxer,
  type Sandboxd,
} from "@sandboxd/testing";
import { busyboxRootfs } from "@sandboxd/testing";
import { requireRuntime } from "../sandboxer/helpers.js";
import { noProcessesMentioning } from "../sandbox/helpers.js";

export interface CriWorld {
  dir: string;
  daemon: Sandboxd;
  sandboxer: RunningSandboxer;
  rt: Client<typeof RuntimeService>;
  /** The stand-in image: a busybox root filesystem (a local directory). */
  image: string;
  logDir: string;
  /** kill -9 sandboxd and start it again on the same root and state (`daemon` and `rt` follow). */
  restartDaemon(): Promise<void>;
  close(): Promise<void>;
}

export const criConfig = `
[plugins."io.containerd.cri.v1.runtime".containerd]
  default_runtime_name = "sbx"
[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.sbx]
  runtime_type = "io.containerd.sbx.v1"
  sandboxer = "sbx"
[plugins."io.containerd.cri.v1.runtime".cni]
  bin_dirs = ["/usr/lib/cni"]
  conf_dir = "/etc/cni/net.d"
[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;

/** isGateway: the host gets an address on the pod bridge (host ports and pod IPs reachable). */
export async function openCri(o: { isGateway?: boolean } = {}): Promise<CriWorld> {
  await requireRuntime();
  const dir = await mkdtemp(join(tmpdir(), "sbx-cri-"));
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    await noProcessesMentioning(dir);
  };
  try {
    const image = await busyboxRootfs(join(dir, "rootfs"));
    const logDir = join(dir, "logs");
    await mkdir(logDir);
    const stack = await startProxyStack({
      ...proxyStackDirs(dir),
      sandboxer: o.isGateway ? { isGateway: true } : {},
      sandboxd: { extraConfig: criConfig },
    });
    cleanups.push(() => stack.sandboxer.stop());
    let channel = new Channel(stack.sandboxd.address);
    const w: CriWorld = {
      dir,
      daemon: stack.sandboxd,
      sandboxer: stack.sandboxer,
      rt: channel.client(RuntimeService),
      image,
      logDir,
      close,
      async restartDaemon() {
        channel.close();
        w.daemon = await stack.restartSandboxd();
        channel = new Channel(w.daemon.address);
        w.rt = channel.client(RuntimeService);
      },
    };
    cleanups.push(() => w.daemon.stop());
    cleanups.push(async () => {
      // Remove every pod the tests left (RemovePodSandbox removes their containers).
      const pods = await w.rt.listPodSandbox({});
      for (const p of pods.items) await w.rt.removePodSandbox({ podSandboxId: p.id });
      channel.close();
    });
    return w;
  } catch (err) {
    await close();
    throw err;
  }
}

let seq = 0;
/** A unique suffix, as critest's framework.NewUUID. */
export function uid(): string {
  return `${process.pid}-${Date.now().toString(36)}-${seq++}`;
}

/** critest's DefaultPodSandboxConfig shape: metadata, a log directory, cgroupfs parent "". */
export function podConfig(
  w: CriWorld,
  name: string,
  extra: Partial<MessageInitShape<typeof PodSandboxConfigSchema>> = {},
): PodSandboxConfig {
  const u = uid();
  return create(PodSandboxConfigSchema, {
    metadata: { name: `${name}-${u}`, uid: u, namespace: "cri-test", attempt: 0 },
    logDirectory: join(w.logDir, u),
    linux: {},
    labels: { "cri.test": "yes" },
    ...extra,
  } as MessageInitShape<typeof PodSandboxConfigSchema>);
}

export function containerConfig(
  w: CriWorld,
  name: string,
  command: string[],
  extra: Partial<MessageInitShape<typeof ContainerConfigSchema>> = {},
): ContainerConfig {
  return create(ContainerConfigSchema, {
    metadata: { name, attempt: 0 },
    image: { image: w.image },
    command,
    logPath: `${name}.log`,
    linux: {},
    ...extra,
  } as MessageInitShape<typeof ContainerConfigSchema>);
}

/** RunPodSandbox + CreateContainer + StartContainer; the ids. */
export async function runContainer(
  w: CriWorld,
  pod: PodSandboxConfig,
  config: ContainerConfig,
): Promise<{ podId: string; id: string }> {
  const { podSandboxId: podId } = await w.rt.runPodSandbox({ config: pod });
  const { containerId: id } = await w.rt.createContainer({
    podSandboxId: podId,
    config,
    sandboxConfig: pod,
  });
  await w.rt.startContainer({ containerId: id });
  return { podId, id };
}
