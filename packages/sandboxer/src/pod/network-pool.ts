/**
 * Prepared pod networks (`[network] prepared_networks = N`, none by default):
 * a pod's net, ipc and uts namespaces pinned and the CNI ADD already run in the
 * net one, kept so that a pod start takes them instead of running unshare and
 * the plugins (most of a pod's start). The network is the sandboxer's own bridge network, which carries
 * nothing of the pod that gets it (no per-pod CNI arguments), so a prepared one
 * is what the pod's start would have made. Pods that need their own (port
 * mappings, a user namespace, the host's or a given netns, `none`) make it as
 * before.
 *
 * Refilled one at a time in the background after each take, while no pod or
 * container is being started, the plugins at the lowest CPU priority (nice 19),
 * so that a refill does not slow the starts it is for. Each is recorded (durably, before its ADD, as a pod's network is)
 * under prepared/<id>.json, its namespace pinned at ns/.prepared/<id>/net. A
 * pod that takes one bind-mounts that namespace into its own pins and records
 * the network as its own; then the prepared record and pin go. After a restart
 * a recorded one is kept while its namespace is still pinned, one a pod had
 * already recorded is just forgotten, and any other is given back (CNI DEL).
 * A clean stop gives all back.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { bindMount, setHostnameIn, type Ctx } from "@sandboxd/core";
import { messageOf } from "@sandboxd/errdefs";
import type { NetworkConfig } from "../config/config.js";
import type { Env } from "../env.js";
import type { SandboxRecord } from "../state/records.js";
import { ensureDir, readJson, writeJsonAtomic } from "../state/atomic.js";
import { cniContainerId, setupPodNetwork, teardownPodNetwork, type PodNetwork } from "./cni.js";
import { QuietGate } from "./quiet-gate.js";
import { mountEntry, pinNamespaces, unpinNamespaces, type PinnedNamespaces } from "./namespaces.js";

export interface PreparedNetwork {
  id: string;
  /** Where its namespace is pinned (ns/.prepared/<id>). */
  pinDir: string;
  network: PodNetwork;
}

/** prepared/<id>.json; `network` is absent until the ADD answered. */
interface PreparedRecord {
  version: 1;
  id: string;
  pinDir: string;
  containerId: string;
  netns: string;
  network?: PodNetwork | undefined;
}

/** A pod annotation; `none` keeps the pod off CNI (its own network namespace, loopback only). */
export const podNetworkAnnotation = "io.sandboxd.pod.network";

/** Whether the pod's namespaces are all its own and its network the sandboxer's bridge. */
export function takesPrepared(r: SandboxRecord, net: NetworkConfig): boolean {
  return (
    net.enabled &&
    r.netnsPath === undefined &&
    !r.hostNetwork &&
    !r.hostIpc &&
    !r.userns &&
    !r.portMappings?.length &&
    r.annotations[podNetworkAnnotation] !== "none"
  );
}

/**
 * Gives a pod the prepared network's namespaces: each bind-mounted among the pod's
 * pins (the same namespace, pinned twice until the pool lets go of it), the UTS one
 * named. What was bound before a failure is left for the pod's unpinning.
 */
export async function adoptPrepared(
  pinDir: string,
  prepared: PreparedNetwork,
  hostname: string,
): Promise<PinnedNamespaces> {
  await mkdir(pinDir, { recursive: true, mode: 0o711 });
  const pins: PinnedNamespaces = { dir: pinDir };
  for (const kind of ["net", "ipc", "uts"] as const) {
    const target = join(pinDir, kind);
    await (await open(target, "a", 0o444)).close();
    await bindMount(join(prepared.pinDir, kind), target);
    pins[kind] = target;
  }
  await setHostnameIn(join(pinDir, "uts"), hostname);
  return pins;
}

/** How long no start runs before a network is made (the calls of one pod come in a row). */
const quietMs = 20;

export class NetworkPool {
  readonly #env: Pick<Env, "config" | "layout" | "root">;
  readonly #size: number;
  readonly #ready: PreparedNetwork[] = [];
  #filling: Promise<void> | undefined;
  #closed = false;
  readonly #gate = new QuietGate(quietMs);

  constructor(env: Pick<Env, "config" | "layout" | "root">) {
    const net = env.config.network;
    this.#env = env;
    this.#size = net.enabled ? net.preparedNetworks : 0;
  }

  /**
   * Runs a pod's start or a container's create or start: no network is made
   * meanwhile, so that a burst of starts has the CPU (they take prepared ones,
   * or make their own).
   */
  busy<T>(fn: () => Promise<T>): Promise<T> {
    // With no prepared networks (the default) there is nothing to hold back: no gate, no timer.
    return this.#size === 0 ? fn() : this.#gate.busy(fn);
  }

  /** How many are ready now. */
  get ready(): number {
    return this.#ready.length;
  }

  /** A ready network for a pod, or undefined; another is made in the background. */
  take(): PreparedNetwork | undefined {
    const taken = this.#ready.shift();
    this.fill();
    return taken;
  }

  /** Forgets `n`, whose namespace and network a pod has recorded as its own. */
  async handedOver(ctx: Ctx, n: Pick<PreparedNetwork, "id" | "pinDir">): Promise<void> {
    await unpinNamespaces(ctx, n.pinDir);
    await rm(this.#file(n.id), { force: true });
  }

  /** Gives back a network taken but not handed over (the pod's start failed first). */
  async discard(ctx: Ctx, n: PreparedNetwork): Promise<void> {
    await this.#release(ctx, {
      version: 1,
      id: n.id,
      pinDir: n.pinDir,
      containerId: n.network.containerId,
      netns: n.network.netns,
      network: n.network,
    });
  }

  /** Makes networks until `size` are ready (one at a time); a failure stops until the next take. */
  fill(): void {
    if (this.#filling || this.#closed || this.#ready.length >= this.#size) return;
    const ctx = this.#env.root;
    this.#filling = (async () => {
      while (!this.#closed && this.#ready.length < this.#size) {
        await this.#gate.quiet;
        if (this.#closed) return;
        try {
          this.#ready.push(await this.#make(ctx));
        } catch (err) {
          ctx.log.warn({ error: messageOf(err) }, "preparing a pod network failed");
          return;
        }
      }
    })().finally(() => (this.#filling = undefined));
  }

  /**
   * After a restart: keeps what is still pinned and ready, forgets what a pod
   * recorded (`owned`: the CNI container ids of the pods' networks), gives back
   * the rest.
   */
  async recover(ctx: Ctx, owned: ReadonlySet<string>): Promise<void> {
    const names = await readdir(this.#env.layout.preparedDir).catch(() => []);
    const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
    for (const name of names.filter((n) => n.endsWith(".json"))) {
      const rec = await readJson<PreparedRecord>(join(this.#env.layout.preparedDir, name)).catch(
        () => undefined,
      );
      if (!rec) {
        await rm(join(this.#env.layout.preparedDir, name), { force: true });
        continue;
      }
      if (owned.has(rec.containerId)) {
        await this.handedOver(ctx, rec);
      } else if (rec.network && mountEntry(mountinfo, rec.netns) && !this.#closed) {
        this.#ready.push({ id: rec.id, pinDir: rec.pinDir, network: rec.network });
      } else {
        await this.#release(ctx, rec).catch((err: unknown) =>
          ctx.log.warn({ id: rec.id, error: messageOf(err) }, "giving back a prepared network"),
        );
      }
    }
  }

  /** Stops refilling and gives every ready network back. */
  async close(ctx: Ctx): Promise<void> {
    this.#closed = true;
    this.#gate.open();
    await this.#filling;
    for (let n = this.#ready.shift(); n; n = this.#ready.shift()) {
      await this.discard(ctx, n).catch((err: unknown) =>
        ctx.log.warn({ id: n.id, error: messageOf(err) }, "giving back a prepared network"),
      );
    }
  }

  async #make(ctx: Ctx): Promise<PreparedNetwork> {
    const { layout, config } = this.#env;
    const id = randomBytes(8).toString("hex");
    const pinDir = layout.preparedPinDir(id);
    await ensureDir(layout.preparedDir, 0o711, true);
    // IPC and UTS too: with no unshare at the pod's start, it needs no process at all.
    const pins = await pinNamespaces(ctx, pinDir, { net: true, hostname: "localhost" });
    const rec: PreparedRecord = {
      version: 1,
      id,
      pinDir,
      containerId: cniContainerId(layout.root, ".prepared", id),
      netns: pins.net!,
    };
    try {
      // Recorded before ADD: an ADD cut short may hold a lease that only a DEL gives back.
      await writeJsonAtomic(this.#file(id), rec, true);
      rec.network = await setupPodNetwork(
        ctx,
        config.network,
        layout.cniDataDir,
        rec.containerId,
        rec.netns,
        // pinNamespaces set lo up already.
        { background: true, loopbackPlugin: false },
      );
      await writeJsonAtomic(this.#file(id), rec, false);
    } catch (err) {
      await this.#release(ctx, rec).catch(() => undefined);
      throw err;
    }
    return { id, pinDir, network: rec.network };
  }

  async #release(ctx: Ctx, rec: PreparedRecord): Promise<void> {
    const { config, layout } = this.#env;
    await teardownPodNetwork(
      ctx,
      config.network,
      layout.cniDataDir,
      { containerId: rec.containerId, netns: rec.netns, result: rec.network?.result ?? {} },
      { loopbackPlugin: false },
    );
    await unpinNamespaces(ctx, rec.pinDir);
    await rm(this.#file(rec.id), { force: true });
  }

  #file(id: string): string {
    return join(this.#env.layout.preparedDir, `${id}.json`);
  }
}
