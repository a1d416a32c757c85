/**
 * One pod sandbox: its record on disk and the host resources behind it. start()
 * builds them (the pinned namespaces then the CNI network in them, or both
 * prepared ahead of time; the shared pid holder, the cgroup and /dev/shm at
 * once; then the /etc files) and rolls back what it made if a step fails;
 * release() undoes them in reverse and is safe to repeat. Containers are tracked
 * by the Sandboxer, which stops them before the pod is released.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { hostname } from "node:os";
import type { Ctx } from "@sandboxd/core";
import { failedPrecondition } from "@sandboxd/errdefs";
import type { Env } from "../env.js";
import type { SandboxRecord } from "../state/records.js";
import { ensureDir, writeJsonAtomic } from "../state/atomic.js";
import { withRollback } from "@sandboxd/core";
import { podNamespaceView, type PodNamespaceView } from "../container/pod-namespaces.js";
import { sandboxCgroup } from "./cgroups.js";
import type { CgroupLimits, Cgroups } from "./cgroups.js";
import { cniContainerId, setupPodNetwork, teardownPodNetwork } from "./cni.js";
import { writeEtcFiles } from "./etc-files.js";
import { mountShm, unmountShm } from "./shm.js";
import {
  adoptPrepared,
  podNetworkAnnotation,
  takesPrepared,
  type PreparedNetwork,
} from "./network-pool.js";
import {
  ensurePinRoot,
  forgetPinRoot,
  pidHolderAlive,
  pinNamespaces,
  startPidHolder,
  stopPidHolder,
  unpinNamespaces,
} from "./namespaces.js";
import { sumResources } from "./resources.js";
import type { LinuxResources } from "./resources.js";

export class Pod {
  readonly env: Env;
  rec: SandboxRecord;
  #exited: Promise<void>;
  #resolveExited!: () => void;
  #lastSave: Promise<void> | undefined;
  /** The cgroup and limits resize() last wrote. */
  #applied: string | undefined;
  #queuedSave: Promise<void> | undefined;
  #queuedDurable = true;

  constructor(env: Env, rec: SandboxRecord) {
    this.env = env;
    this.rec = rec;
    this.#exited = new Promise((resolve) => (this.#resolveExited = resolve));
    if (rec.state === "stopped") this.#resolveExited();
  }

  /** The whole sandbox cgroup is frozen (Sandboxer.PauseSandbox); persisted. */
  get frozen(): boolean {
    return this.rec.frozen ?? false;
  }

  set frozen(value: boolean) {
    this.rec.frozen = value;
  }

  get dir(): string {
    return this.env.layout.sandboxDir(this.rec.namespace, this.rec.id);
  }

  /** Resolves when the sandbox has stopped. */
  get exited(): Promise<void> {
    return this.#exited;
  }

  /**
   * Writes the record. Saves run one at a time, each writing the record as it
   * is when its write begins; a save asked for while another waits shares it
   * (concurrent steps of start() never write an older record over a newer one),
   * durable if any of its askers wanted it so. Durable only where the record
   * guards what outlives a machine crash (see writeFileAtomic).
   */
  save(durable = false): Promise<void> {
    if (this.#queuedSave) {
      this.#queuedDurable ||= durable;
      return this.#queuedSave;
    }
    this.#queuedDurable = durable;
    const queued = (this.#lastSave ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        this.#queuedSave = undefined;
        const durable = this.#queuedDurable;
        await ensureDir(this.dir, 0o711, durable);
        await writeJsonAtomic(
          this.env.layout.sandboxFile(this.rec.namespace, this.rec.id),
          this.rec,
          durable,
        );
      });
    this.#queuedSave = queued;
    this.#lastSave = queued;
    return queued;
  }

  /** The pid reported to containerd (Start/Status): the shared pid namespace's init, else 0. */
  get reportedPid(): number {
    return this.rec.pidHolder?.initPid ?? 0;
  }

  /** How containers are placed in this pod's namespaces (see container/pod-namespaces.ts). */
  namespaceView(memberPids: readonly number[]): PodNamespaceView {
    return podNamespaceView(this.rec, memberPids);
  }

  /** The sandbox cgroup: below kubelet's pod cgroup if CRI gave one, else below ours. */
  cgroupPath(): string {
    const { namespace, id, cgroupParent } = this.rec;
    return cgroupParent
      ? `${cgroupParent}/${id}`
      : sandboxCgroup(this.env.config.cgroupParent, namespace, id);
  }

  /** Removes the sandbox cgroup and the levels above it that only it needed. */
  async removeCgroup(cgroup: string): Promise<void> {
    const { cgroups, config } = this.env;
    await cgroups.remove(cgroup);
    if (!this.rec.cgroupParent)
      await cgroups.removeIfEmpty(`${config.cgroupParent}/${this.rec.namespace}`);
    for (const dir of [...(this.rec.cgroupCreated ?? [])].reverse())
      await cgroups.removeIfEmpty(dir);
  }

  /** Builds the pod's resources; on failure nothing of them is left. */
  start(ctx: Ctx): Promise<void> {
    return this.env.networks.busy(() => this.#start(ctx));
  }

  async #start(ctx: Ctx): Promise<void> {
    if (this.rec.state === "ready") return;
    if (this.rec.state === "stopped")
      throw failedPrecondition(`sandbox ${JSON.stringify(this.rec.id)} is stopped`);
    const { config, layout, cgroups } = this.env;
    const { namespace, id } = this.rec;
    await withRollback(ctx, async (undo) => {
      // The namespaces then the network in them; the pid namespace's holder, the cgroup and
      // /dev/shm need none of those: all four made at once (each records what it made). In a
      // pod with its own user namespace the holder starts inside it, so after the pins.
      const makeNamespaces = async (): Promise<void> => {
        await ensurePinRoot(ctx, layout.pinRoot);
        const pinDir = layout.pinDir(namespace, id);
        undo.push("unpin namespaces", (c) => unpinNamespaces(c, pinDir));
        const prepared = takesPrepared(this.rec, config.network)
          ? this.env.networks.take()
          : undefined;
        if (prepared) return adoptNetwork(pinDir, prepared);
        const pin = () =>
          pinNamespaces(ctx, pinDir, {
            net: this.rec.netnsPath === undefined && !this.rec.hostNetwork,
            ipc: !this.rec.hostIpc,
            // A host-network pod shares the host's UTS namespace too (as CRI's pause does).
            uts: !this.rec.hostNetwork,
            hostname: this.rec.hostname,
            userns: this.rec.userns && {
              helper: this.env.config.binaries.userns,
              ...this.rec.userns,
            },
          });
        this.rec.pins = await pin().catch(async (err: unknown) => {
          // The pin root was found private earlier; if someone unmounted it since, make it
          // again (what a check on every start did) and pin once more.
          forgetPinRoot(layout.pinRoot);
          await ensurePinRoot(ctx, layout.pinRoot);
          ctx.log.debug({ error: err }, "pinning namespaces again after checking the pin root");
          return pin();
        });
        await this.save();
        const after = await Promise.allSettled([
          makeNetwork(),
          this.rec.userns ? makePidHolder() : undefined,
        ]);
        for (const r of after) if (r.status === "rejected") throw r.reason;
      };
      // Namespaces made ahead of time, with their network (see network-pool.ts): recorded as
      // the pod's own; the pool forgets them once that record is durable.
      const adoptNetwork = async (pinDir: string, prepared: PreparedNetwork): Promise<void> => {
        const pool = this.env.networks;
        try {
          this.rec.pins = await adoptPrepared(pinDir, prepared, this.rec.hostname);
        } catch (err) {
          void pool.discard(this.env.root, prepared).catch(() => undefined);
          throw err;
        }
        const net = this.rec.pins.net!;
        this.rec.network = { ...prepared.network, netns: net };
        undo.push("CNI DEL", (c) =>
          teardownPodNetwork(
            c,
            config.network,
            layout.cniDataDir,
            { ...prepared.network, netns: net },
            { loopbackPlugin: false },
          ),
        );
        void this.save(true)
          .then(() => pool.handedOver(this.env.root, prepared))
          .catch((err: unknown) => ctx.log.warn({ error: err }, "adopting a prepared network"));
      };
      const makePidHolder = async (): Promise<void> => {
        if (!this.rec.sharePid) return;
        const holder = await startPidHolder(
          ctx,
          { stateDir: this.env.layout.root, pod: `${namespace}/${id}` },
          this.rec.pins?.user,
        );
        undo.push("stop pid namespace holder", () => stopPidHolder(holder));
        this.rec.pidHolder = holder;
        await this.save();
      };
      const cgroup = this.cgroupPath();
      const makeCgroup = async (): Promise<void> => {
        if (this.rec.cgroupParent) {
          // kubelet makes the pod cgroup; whatever of it is missing is ours to remove later.
          this.rec.cgroupCreated = await missingAncestors(cgroups, this.rec.cgroupParent);
          await this.save();
        }
        undo.push("remove cgroup", () => this.removeCgroup(cgroup));
        await cgroups.create(cgroup);
        this.rec.cgroup = cgroup;
        await this.save();
      };
      const makeNetwork = async (): Promise<void> => {
        if (this.rec.netnsPath !== undefined || !config.network.enabled || !this.rec.pins?.net) {
          return;
        }
        // `sbx run --net none`: a network namespace of its own with loopback only.
        if (this.rec.annotations[podNetworkAnnotation] === "none") return;
        const containerId = cniContainerId(layout.root, namespace, id);
        const netns = this.rec.pins.net;
        // Recorded before ADD: an ADD cut short (cancelled, or kill -9) may already hold an
        // IPAM lease and a veth, which only a DEL with this container id gives back.
        this.rec.network = { containerId, netns, result: {} };
        await this.save(true);
        undo.push("CNI DEL", (c) =>
          teardownPodNetwork(
            c,
            config.network,
            layout.cniDataDir,
            { containerId, netns, result: this.rec.network?.result ?? {} },
            { ports: this.rec.portMappings, loopbackPlugin: this.rec.userns !== undefined },
          ),
        );
        this.rec.network = await setupPodNetwork(
          ctx,
          config.network,
          layout.cniDataDir,
          containerId,
          netns,
          // Only the user-namespace helper leaves lo down (pinNewNamespaces sets it up).
          { ports: this.rec.portMappings, loopbackPlugin: this.rec.userns !== undefined },
        );
        await this.save();
      };
      const makeShm = async (): Promise<void> => {
        if (this.rec.implicit || this.rec.hostIpc) return;
        // One /dev/shm per pod, shared by its containers (what CRI gives a pause pod).
        const shm = join(this.dir, "shm");
        this.rec.shm = shm;
        await this.save();
        undo.push("unmount /dev/shm", (c) => unmountShm(c, shm));
        await mountShm(shm);
      };
      // All settle before a failure rolls back, so the rollback sees all they made.
      const made = await Promise.allSettled([
        makeNamespaces(),
        this.rec.userns ? undefined : makePidHolder(),
        makeCgroup(),
        makeShm(),
      ]);
      for (const r of made) if (r.status === "rejected") throw r.reason;

      const etcDir = layout.etcDir(namespace, id);
      undo.push("remove /etc files", () => rm(etcDir, { recursive: true, force: true }));
      this.rec.etc = await writeEtcFiles(etcDir, {
        hostname: this.rec.hostNetwork ? hostname() : this.rec.hostname,
        ip: this.rec.network?.ip,
        resolvConfSource: config.network.resolvConf,
        resolvConf: this.rec.resolvConf,
        hostNetwork: this.rec.hostNetwork,
      });

      this.rec.state = "ready";
      this.rec.startedAt = Date.now();
      await this.save();
    }).catch(async (err: unknown) => {
      this.rec.pins = undefined;
      this.rec.pidHolder = undefined;
      this.rec.cgroup = undefined;
      this.rec.network = undefined;
      this.rec.etc = undefined;
      this.rec.shm = undefined;
      this.rec.cgroupCreated = undefined;
      await this.save().catch(() => undefined);
      throw err;
    });
  }

  /** Marks the sandbox stopped (after its containers were stopped) and releases its network. */
  async stop(ctx: Ctx): Promise<void> {
    if (this.rec.state === "stopped") return;
    await this.releaseNetwork(ctx);
    this.rec.state = "stopped";
    this.rec.exitStatus = this.rec.exitStatus ?? 0;
    this.rec.exitedAt = Date.now();
    await this.save();
    this.#resolveExited();
  }

  /** CNI DEL, pinned namespaces, the pid holder and /dev/shm; each step recorded as undone. */
  async releaseNetwork(ctx: Ctx): Promise<void> {
    const { config, layout } = this.env;
    const { network, pidHolder, pins, shm } = this.rec;
    if (!network && !pidHolder && !pins && !shm) return;
    if (network) {
      await teardownPodNetwork(ctx, config.network, layout.cniDataDir, network, {
        ports: this.rec.portMappings,
        loopbackPlugin: this.rec.userns !== undefined,
      });
      this.rec.network = undefined;
    }
    // The pid holder, the pins and /dev/shm need nothing of each other once the network is
    // gone: released at once, then one record of what went. Each release (CNI DEL too) is
    // idempotent, so a crash before the record only repeats some of them at recovery.
    const released = await Promise.allSettled([
      pidHolder && stopPidHolder(pidHolder).then(() => (this.rec.pidHolder = undefined)),
      pins && unpinNamespaces(ctx, pins.dir).then(() => (this.rec.pins = undefined)),
      shm && unmountShm(ctx, shm).then(() => (this.rec.shm = undefined)),
    ]);
    await this.save();
    const failed = released.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** Everything: network, cgroup, files and the state directory. Idempotent. */
  async release(ctx: Ctx): Promise<void> {
    await this.releaseNetwork(ctx);
    if (this.rec.cgroup) {
      await this.removeCgroup(this.rec.cgroup);
      this.rec.cgroup = undefined;
    }
    await rm(this.dir, { recursive: true, force: true });
    if (this.rec.state !== "stopped") {
      this.rec.state = "stopped";
      this.rec.exitedAt = Date.now();
      this.#resolveExited();
    }
  }

  /**
   * Resizes the sandbox cgroup to the sum of its containers' resources; the same
   * limits as the last ones this process wrote are not written again.
   */
  async resize(all: readonly (LinuxResources | undefined)[]): Promise<CgroupLimits> {
    const limits = sumResources(all);
    const key = `${this.rec.cgroup ?? ""}\0${JSON.stringify(limits)}`;
    if (this.rec.cgroup && key !== this.#applied) {
      this.#applied = undefined;
      await this.env.cgroups.setLimits(this.rec.cgroup, limits);
      this.#applied = key;
    }
    return limits;
  }

  /** Whether the holder of a shared pid namespace (if any) is still alive. */
  async healthy(): Promise<boolean> {
    return this.rec.pidHolder === undefined || (await pidHolderAlive(this.rec.pidHolder));
  }
}

/** The prefixes of `rel` that do not exist yet, outermost first. */
async function missingAncestors(cgroups: Cgroups, rel: string): Promise<string[]> {
  const parts = rel.split("/");
  const out: string[] = [];
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join("/");
    if (!(await cgroups.exists(prefix))) out.push(prefix);
  }
  return out;
}
