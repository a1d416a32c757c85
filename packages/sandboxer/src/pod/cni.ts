/**
 * Pod networking with the standard CNI plugins, executed directly as the CNI
 * spec describes (no libcni): the command and its parameters in CNI_* env
 * variables, the network config on stdin, a result or an error as JSON on stdout.
 * A pod gets loopback ("lo") and one bridge + host-local interface ("eth0"),
 * chained to portmap when it has host ports (CRI port_mappings).
 * host-local keeps its leases under the sandboxer's state dir, and bridge and
 * subnet come from the config, so instances side by side do not collide.
 */
import { createHash } from "node:crypto";
import { access } from "node:fs/promises";
import { join } from "node:path";
import type { Ctx } from "@sandboxd/core";
import { failedPrecondition, unknown as unknownError } from "@sandboxd/errdefs";
import type { NetworkConfig } from "../config/config.js";
import { run } from "@sandboxd/core";

export const cniVersion = "1.0.0";

export interface CniResult {
  cniVersion?: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { interface?: number; address: string; gateway?: string }[];
  routes?: { dst: string; gw?: string }[];
  dns?: unknown;
}

export interface PodNetwork {
  /** CNI_CONTAINERID used for the pod (IPAM leases are keyed by it). */
  containerId: string;
  netns: string;
  /** The bridge plugin's ADD result, kept for DEL (prevResult). */
  result: CniResult;
  ip?: string | undefined;
  gateway?: string | undefined;
}

/**
 * A CNI container id for a pod: unique across namespaces and across sandboxer
 * instances (state dirs), since portmap names its iptables chains after it and
 * two instances must never delete each other's rules.
 */
export function cniContainerId(stateDir: string, namespace: string, sandboxId: string): string {
  return createHash("sha256")
    .update(`${stateDir}\0${namespace}\0${sandboxId}`)
    .digest("hex")
    .slice(0, 40);
}

/** One host port forwarded to the pod, in portmap's runtimeConfig form. */
export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp" | "sctp";
  /** Empty: every host address. */
  hostIP?: string | undefined;
}

/**
 * The portmap plugin's config, chained after the bridge (same network name, as
 * in a conflist). `runtimeConfig` is what libcni would inject for the
 * `portMappings` capability; DEL needs it too, or portmap removes nothing.
 * snat (its default) masquerades connections from 127.0.0.1 and sets
 * route_localnet on the bridge, so a host port answers on loopback.
 */
export function portmapConfig(
  net: NetworkConfig,
  mappings: readonly PortMapping[],
): Record<string, unknown> {
  return {
    cniVersion,
    name: net.name,
    type: "portmap",
    capabilities: { portMappings: true },
    snat: true,
    runtimeConfig: {
      portMappings: mappings.map((m) => ({
        hostPort: m.hostPort,
        containerPort: m.containerPort,
        protocol: m.protocol,
        ...(m.hostIP ? { hostIP: m.hostIP } : {}),
      })),
    },
  };
}

/** The bridge network's config (one plugin; the spec's `name` + `cniVersion` included). */
export function bridgeConfig(net: NetworkConfig, ipamDataDir: string): Record<string, unknown> {
  return {
    cniVersion,
    name: net.name,
    type: "bridge",
    bridge: net.bridge,
    isGateway: net.isGateway,
    ipMasq: net.ipMasq,
    hairpinMode: true,
    ...(net.mtu > 0 ? { mtu: net.mtu } : {}),
    ipam: {
      type: "host-local",
      ranges: [[{ subnet: net.subnet }]],
      routes: [{ dst: "0.0.0.0/0" }],
      dataDir: ipamDataDir,
    },
  };
}

export function loopbackConfig(): Record<string, unknown> {
  return { cniVersion, name: "loopback", type: "loopback" };
}

export interface PluginCall {
  binDir: string;
  command: "ADD" | "DEL" | "CHECK" | "VERSION";
  containerId: string;
  netns: string;
  ifname: string;
  config: Record<string, unknown>;
  /** Run the plugin (and the IPAM plugin it runs) at the lowest CPU priority (nice 19). */
  background?: boolean | undefined;
}

/** The error a plugin printed ({code, msg, details}), as one line. */
export function describePluginError(
  plugin: string,
  stdout: string,
  stderr: string,
  code: number,
): string {
  try {
    const e = JSON.parse(stdout) as { code?: number; msg?: string; details?: string };
    if (e.msg)
      return `CNI plugin ${plugin}: ${e.msg}${e.details ? `: ${e.details}` : ""} (code ${e.code ?? "?"})`;
  } catch {
    // not JSON: fall back to the raw output
  }
  const raw = (stderr.trim() || stdout.trim()).split("\n").slice(-2).join("; ");
  return `CNI plugin ${plugin}: exit status ${code}${raw ? `: ${raw}` : ""}`;
}

/** Runs one plugin; its parsed stdout on success, an error naming the plugin otherwise. */
export async function execPlugin(ctx: Ctx, call: PluginCall): Promise<CniResult> {
  const type = typeof call.config.type === "string" ? call.config.type : "";
  const binary = join(call.binDir, type);
  try {
    await access(binary);
  } catch {
    throw failedPrecondition(`CNI plugin ${type}: not found in ${call.binDir}`);
  }
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: call.netns,
    CNI_IFNAME: call.ifname,
    CNI_PATH: call.binDir,
  };
  const [file, args] = call.background ? ["nice", ["-n", "19", binary]] : [binary, []];
  const result = await run(ctx, file, args, {
    env,
    input: JSON.stringify(call.config),
    timeoutMs: 60_000,
  });
  if (result.code !== 0) {
    throw unknownError(
      `${call.command} ${call.ifname}: ${describePluginError(type, result.stdout, result.stderr, result.code ?? 128)}`,
    );
  }
  if (call.command === "DEL" || result.stdout.trim() === "") return {};
  try {
    return JSON.parse(result.stdout) as CniResult;
  } catch {
    throw unknownError(
      `CNI plugin ${type}: ${call.command} printed no JSON result: ${result.stdout.slice(0, 200)}`,
    );
  }
}

/** The pod's address on eth0 (without the prefix length) and its gateway. */
export function primaryAddress(result: CniResult): { ip?: string; gateway?: string } {
  const eth = result.interfaces?.findIndex((i) => i.sandbox !== undefined && i.sandbox !== "");
  const entry =
    result.ips?.find((ip) => eth !== undefined && eth >= 0 && ip.interface === eth) ??
    result.ips?.[0];
  if (!entry) return {};
  return { ip: entry.address.split("/")[0], ...(entry.gateway ? { gateway: entry.gateway } : {}) };
}

export interface PodNetworkOptions {
  /** Host ports: portmap is ADDed after the bridge, with its result. */
  ports?: readonly PortMapping[] | undefined;
  /** The plugins at nice 19 (prepared networks). */
  background?: boolean | undefined;
  /**
   * Whether lo still has to be set up by the loopback plugin: not where the namespace
   * was made by core's pinNewNamespaces, which sets it up (default true).
   */
  loopbackPlugin?: boolean | undefined;
}

/**
 * ADD loopback (unless lo is up already) and the bridge network in `netns` (at once),
 * then portmap with the bridge's result when there are host ports; eth0 (and portmap)
 * are undone (DEL) if any step fails.
 */
export async function setupPodNetwork(
  ctx: Ctx,
  net: NetworkConfig,
  ipamDataDir: string,
  containerId: string,
  netns: string,
  options: PodNetworkOptions = {},
): Promise<PodNetwork> {
  const ports = options.ports ?? [];
  const base = { binDir: net.cniBinDir, containerId, netns, background: options.background };
  const config = bridgeConfig(net, ipamDataDir);
  // Two networks of their own in one netns (lo, eth0): both ADDs run at once.
  const [lo, eth0] = await Promise.allSettled([
    options.loopbackPlugin === false
      ? undefined
      : execPlugin(ctx, { ...base, command: "ADD", ifname: "lo", config: loopbackConfig() }),
    execPlugin(ctx, { ...base, command: "ADD", ifname: "eth0", config }),
  ]);
  if (lo.status === "rejected" || eth0.status === "rejected") {
    // The bridge plugin may have taken a lease or made a veth before it (or lo) failed.
    await execPlugin(ctx, { ...base, command: "DEL", ifname: "eth0", config }).catch(
      () => undefined,
    );
    // lo's error first, as when lo was ADDed before eth0.
    throw lo.status === "rejected" ? lo.reason : (eth0 as PromiseRejectedResult).reason;
  }
  const result = eth0.value;
  if (ports.length > 0) {
    const pm = { ...portmapConfig(net, ports), prevResult: result };
    try {
      await execPlugin(ctx, { ...base, command: "ADD", ifname: "eth0", config: pm });
    } catch (err) {
      await execPlugin(ctx, { ...base, command: "DEL", ifname: "eth0", config: pm }).catch(
        () => undefined,
      );
      await execPlugin(ctx, { ...base, command: "DEL", ifname: "eth0", config }).catch(
        () => undefined,
      );
      throw err;
    }
  }
  return { containerId, netns, result, ...primaryAddress(result) };
}

/**
 * DEL portmap (when the pod has host ports), then the bridge network (with
 * prevResult) and loopback (where its plugin was ADDed), as a conflist is
 * deleted: in reverse. Idempotent: DEL of nothing succeeds.
 */
export async function teardownPodNetwork(
  ctx: Ctx,
  net: NetworkConfig,
  ipamDataDir: string,
  pod: Pick<PodNetwork, "containerId" | "netns" | "result">,
  options: Pick<PodNetworkOptions, "ports" | "loopbackPlugin"> = {},
): Promise<void> {
  const ports = options.ports ?? [];
  const base = { binDir: net.cniBinDir, containerId: pod.containerId, netns: pod.netns };
  if (ports.length > 0) {
    const pm = {
      ...portmapConfig(net, ports),
      ...(pod.result.ips ? { prevResult: pod.result } : {}),
    };
    await execPlugin(ctx, { ...base, command: "DEL", ifname: "eth0", config: pm });
  }
  const config = {
    ...bridgeConfig(net, ipamDataDir),
    ...(pod.result.ips ? { prevResult: pod.result } : {}),
  };
  const [eth0] = await Promise.allSettled([
    execPlugin(ctx, { ...base, command: "DEL", ifname: "eth0", config }),
    options.loopbackPlugin === false
      ? undefined
      : execPlugin(ctx, { ...base, command: "DEL", ifname: "lo", config: loopbackConfig() }),
  ]);
  if (eth0.status === "rejected") throw eth0.reason;
}
