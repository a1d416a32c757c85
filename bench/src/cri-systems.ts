/**
 * The two CRI runtimes the CRI benchmark compares, each started for it inside
 * the bench's {@link BenchEnv} and driven by the same runtime.v1 client
 * (@sandboxd/grpc with @sandboxd/api's generated types):
 *
 * - Debian's containerd 1.6 with its own CRI plugin (io.containerd.grpc.v1.cri):
 *   runc through containerd-shim-runc-v2, a pause container per pod from a
 *   local pause image, CNI bridge + host-local (containerd adds loopback);
 * - sandboxd's CRI, pods through sbx-sandboxer as its proxy sandbox controller
 *   (no pause container; the sandboxer's CNI bridge + host-local + loopback).
 *
 * Both pull their images from the bench's registry through the CRI ImageService.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ImageService, RuntimeService } from "@sandboxd/api/cri/runtime/v1/api_pb";
import { Channel, type Client } from "@sandboxd/grpc";
import { startContainerd, type Registry } from "@sandboxd/testing";
import { pushPauseImage, type BenchImage } from "./bench-images.js";
import { errorText, pool, type BenchEnv } from "./harness.js";
import { PROXY_SANDBOXER, startSbxStack } from "./systems.js";

export interface CriRuntime {
  name: string;
  address: string;
  rt: Client<typeof RuntimeService>;
  images: Client<typeof ImageService>;
  /** Its daemons' pids by name (their CPU time is sampled around each batch). */
  daemons: Record<string, number>;
  /** The cgroup parent its pods get (cgroupfs), a parent of the bench's. */
  cgroupParent: string;
  /** Stops and removes every pod it has (untimed clean-up). */
  removeAllPods(): Promise<void>;
}

/** Pod networks the warm sandboxd keeps made: one per pod of the bench's batch. */
export const PREPARED_NETWORKS = 20;

export const CriSystem = {
  containerd: "containerd 1.6 CRI (runc, pause)",
  sandboxd: "sandboxd CRI (sbx-sandboxer)",
  sandboxdPrepared: `sandboxd CRI (sbx-sandboxer, ${PREPARED_NETWORKS} prepared networks)`,
} as const;

function criClients(env: BenchEnv, address: string, what: string) {
  const channel = new Channel(address);
  env.defer(`close the CRI client of ${what}`, () => Promise.resolve(channel.close()));
  return { rt: channel.client(RuntimeService), images: channel.client(ImageService) };
}

async function removeAllPods(rt: Client<typeof RuntimeService>): Promise<void> {
  const errors: string[] = [];
  const { items } = await rt.listPodSandbox({});
  await pool(items, 8, async (p) => {
    try {
      await rt.stopPodSandbox({ podSandboxId: p.id }, { timeoutMs: 60_000 });
      await rt.removePodSandbox({ podSandboxId: p.id }, { timeoutMs: 60_000 });
    } catch (err) {
      errors.push(`pod ${p.id}: ${errorText(err)}`);
    }
  });
  if (errors.length) throw new Error(`removing pods: ${errors.join("; ")}`);
}

/**
 * containerd 1.6 with its CRI plugin. `restrict_oom_score_adj`: this machine's root cannot
 * lower oom_score_adj below 0 (no CAP_SYS_RESOURCE), and the pause container's -998 makes
 * runc fail, so containerd clamps to its own value, as rootless setups do.
 */
export async function startContainerdCri(
  env: BenchEnv,
  registry: Registry,
): Promise<{ runtime: CriRuntime; pause: BenchImage }> {
  const dir = join(env.dir, "ctd-cri");
  const pause = await pushPauseImage(env, registry);
  const cni = join(dir, "cni");
  const certs = join(dir, "certs.d");
  const runcRoot = join(dir, "runc");
  const bridge = `sbxbc${process.pid % 100_000}`;
  const cgroupParent = `sbxbench-ctdcri${process.pid}`;
  await mkdir(cni, { recursive: true });
  await mkdir(join(certs, registry.host), { recursive: true });
  await writeFile(
    join(certs, registry.host, "hosts.toml"),
    `server = "http://${registry.host}"\n\n[host."http://${registry.host}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
  await writeFile(
    join(cni, "10-bench.conflist"),
    JSON.stringify({
      cniVersion: "1.0.0",
      name: `sbxbench-ctdcri${process.pid}`,
      plugins: [
        {
          type: "bridge",
          bridge,
          isGateway: false,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir: join(dir, "ipam"),
            ranges: [[{ subnet: `10.76.${process.pid % 250}.0/24` }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
      ],
    }),
  );
  env.addLink(bridge);
  env.addRuncRoot(runcRoot);
  env.addCgroupParent(cgroupParent);
  const table = (sub = ""): string => `[plugins."io.containerd.grpc.v1.cri"${sub}]`;
  const containerd = await startContainerd({
    dir,
    cri: true,
    extraConfig: [
      table(),
      `  sandbox_image = ${JSON.stringify(pause.ref)}`,
      "  restrict_oom_score_adj = true",
      '  stream_server_address = "127.0.0.1"',
      '  stream_server_port = "0"',
      table(".containerd"),
      '  default_runtime_name = "runc"',
      '  snapshotter = "overlayfs"',
      table(".containerd.runtimes.runc"),
      '  runtime_type = "io.containerd.runc.v2"',
      table(".containerd.runtimes.runc.options"),
      `  Root = ${JSON.stringify(runcRoot)}`,
      table(".cni"),
      '  bin_dir = "/usr/lib/cni"',
      `  conf_dir = ${JSON.stringify(cni)}`,
      "  max_conf_num = 1",
      table(".registry"),
      `  config_path = ${JSON.stringify(certs)}`,
    ].join("\n"),
  });
  env.defer("stop containerd (CRI)", () => containerd.stop());
  const { rt, images } = criClients(env, containerd.address, "containerd");
  env.defer("remove containerd's CRI pods", () => removeAllPods(rt));
  await images.pullImage({ image: { image: pause.ref } }, { timeoutMs: 120_000 });
  return {
    pause,
    runtime: {
      name: CriSystem.containerd,
      address: containerd.address,
      daemons: { containerd: containerd.process.pid ?? 0 },
      rt,
      images,
      cgroupParent,
      removeAllPods: () => removeAllPods(rt),
    },
  };
}

/**
 * A sandboxd + sbx-sandboxer stack of its own with containerd 2.x's CRI keys; `prepared`:
 * sbx-sandboxer keeps that many pod networks made ahead of time (the warm start).
 */
export async function startSandboxdCri(env: BenchEnv, prepared = 0): Promise<CriRuntime> {
  const stack = await startSbxStack(env, {
    name: prepared ? "sbd-cri-prepared" : "sbd-cri",
    preparedNetworks: prepared,
    extraConfig: [
      '[plugins."io.containerd.cri.v1.runtime".containerd]',
      `  default_runtime_name = ${JSON.stringify(PROXY_SANDBOXER)}`,
      `[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.${PROXY_SANDBOXER}]`,
      '  runtime_type = "io.containerd.sbx.v1"',
      `  sandboxer = ${JSON.stringify(PROXY_SANDBOXER)}`,
      '[plugins."io.containerd.grpc.v1.cri"]',
      '  stream_server_address = "127.0.0.1"',
      '  stream_server_port = "0"',
    ].join("\n"),
  });
  const cgroupParent = `sbxbench-sbdcri${prepared ? "p" : ""}${process.pid}`;
  env.addCgroupParent(cgroupParent);
  const { rt, images } = criClients(env, stack.sandboxd.address, "sandboxd");
  env.defer("remove sandboxd's CRI pods", () => removeAllPods(rt));
  return {
    name: prepared ? CriSystem.sandboxdPrepared : CriSystem.sandboxd,
    address: stack.sandboxd.address,
    daemons: { sandboxd: stack.sandboxd.process.pid ?? 0, "sbx-sandboxer": stack.sandboxer.pid },
    rt,
    images,
    cgroupParent,
    removeAllPods: () => removeAllPods(rt),
  };
}
