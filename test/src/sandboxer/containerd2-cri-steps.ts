// containerd 2.x's CRI plugin, reduced to the calls it makes on a sandbox proxy
// plugin (gRPC Controller) and on the task address the controller returns
// (ttrpc Task v3), in its order. Each method is named after the containerd
// function it mirrors (containerd v2.1.4: internal/cri/server/sandbox_run.go,
// container_create.go, container_start.go, container_execsync.go,
// container_stop.go, events.go, sandbox_stop.go, sandbox_remove.go;
// core/runtime/v2/shim_manager.go for the bundle, bootstrap.json and Connect).
import { randomBytes } from "node:crypto";
import { cp, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { JsonTypeUrl, pack, packJson } from "@sandboxd/api";
import { OptionsSchema } from "@sandboxd/api/types/runc/options/oci_pb";
import type { CriFifos, CriNamespaceMode, PodSandboxConfigInput } from "@sandboxd/testing";
import {
  createNetns,
  criFifos,
  criLogger,
  encodePodSandboxConfig,
  ociSpec,
  overlaySnapshot,
  podSandboxConfigTypeUrl,
  removeNetns,
  withPodNamespaces,
  writeBundleSpec,
} from "@sandboxd/testing";
import type { Fixture } from "./helpers.js";
import { collect, fifos } from "./helpers.js";

/** The proxy plugin's name in containerd's config (`[proxy_plugins.sbx]`). */
export const sandboxer = "sbx";
/** CRI's containerd namespace. */
export const criNamespace = "k8s.io";

export interface Pod {
  id: string;
  netnsName?: string | undefined;
  netns: string;
  pid: number;
  address: string;
  version: number;
  config: PodSandboxConfigInput;
}

export interface Ctr {
  id: string;
  pod: Pod;
  bundle: string;
  fifos: CriFifos;
  logFile: string;
  logged: Promise<void>[];
  exited?: Promise<{ exitStatus: number }> | undefined;
  pid: number;
}

export interface ContainerConfig {
  name: string;
  args: string[];
  stdin?: boolean;
  pid?: CriNamespaceMode;
  /** Extra OCI mounts (CRI volumes). */
  mounts?: { destination: string; type: string; source: string; options: string[] }[];
  env?: string[];
}

export class CriStandIn {
  readonly f: Fixture;
  /** Image layers (lowerdir order: top first), shared by every container. */
  readonly layers: string[];
  readonly tasks: ReturnType<Fixture["tasks"]>;
  readonly controller: ReturnType<Fixture["controller"]>;

  constructor(f: Fixture, layers: string[]) {
    this.f = f;
    this.layers = layers;
    this.tasks = f.tasks(criNamespace);
    this.controller = f.controller(criNamespace);
  }

  /** The ttrpc client again after the sandboxer came back (what loadShim does from bootstrap.json). */
  refresh(): void {
    (this as { tasks: ReturnType<Fixture["tasks"]> }).tasks = this.f.tasks(criNamespace);
  }

  /**
   * RunPodSandbox: CRI makes the netns (unless host network), then
   * controller.Create(sandbox, WithOptions(config), WithNetNSPath) and Start.
   */
  async runPodSandbox(config: PodSandboxConfigInput): Promise<Pod> {
    const id = randomBytes(16).toString("hex");
    const hostNetwork = config.network === "NODE";
    const netnsName = hostNetwork ? undefined : `cni-sbx-${randomBytes(4).toString("hex")}`;
    const netns = netnsName ? await createNetns(netnsName) : "";
    const name = `${config.name}_${config.namespace}_${config.uid}_${config.attempt ?? 0}`;
    try {
      await this.controller.create({
        sandboxId: id,
        sandbox: {
          sandboxId: id,
          runtime: { name: "io.containerd.runc.v2" },
          labels: { name },
          sandboxer,
        },
        options: { typeUrl: podSandboxConfigTypeUrl, value: encodePodSandboxConfig(config) },
        netnsPath: netns,
        sandboxer,
      });
    } catch (err) {
      // CRI's deferred cleanup: the netns it made goes when the sandbox fails.
      if (netnsName) await removeNetns(netnsName);
      throw err;
    }
    const started = await this.controller.start({ sandboxId: id, sandboxer });
    return {
      id,
      netnsName,
      netns,
      pid: started.pid,
      address: started.address,
      version: started.version,
      config,
    };
  }

  /**
   * CreateContainer: controller.Status for the sandbox pid, then the spec with
   * WithPodNamespaces (/proc/<pid>/ns/*), the CRI annotations and cgroups path.
   * containerd's task manager then makes the bundle with config.json, `sandbox`
   * and bootstrap.json (the sandbox's address, version 3: no shim binary).
   */
  async createContainer(pod: Pod, c: ContainerConfig): Promise<Ctr> {
    const status = await this.controller.status({ sandboxId: pod.id, sandboxer });
    const id = randomBytes(16).toString("hex");
    const bundle = join(this.f.dir, "state", "io.containerd.runtime.v2.task", criNamespace, id);
    const spec = ociSpec({
      args: c.args,
      env: [`HOSTNAME=${pod.config.hostname ?? ""}`, ...(c.env ?? [])],
      annotations: {
        "io.kubernetes.cri.container-type": "container",
        "io.kubernetes.cri.container-name": c.name,
        "io.kubernetes.cri.sandbox-id": pod.id,
        "io.kubernetes.cri.sandbox-name": pod.config.name,
        "io.kubernetes.cri.sandbox-namespace": pod.config.namespace,
        "io.kubernetes.cri.sandbox-uid": pod.config.uid,
      },
      ...(pod.config.cgroupParent ? { cgroupsPath: `${pod.config.cgroupParent}/${id}` } : {}),
    }) as Record<string, unknown> & { hostname?: string; mounts: unknown[] };
    // CRI's spec has no hostname of its own: the pod's UTS namespace names it.
    delete spec.hostname;
    spec.mounts.push(...(c.mounts ?? []));
    withPodNamespaces(spec, status.pid, c.pid ?? "CONTAINER");
    await writeBundleSpec(bundle, spec);
    await writeFile(join(bundle, "sandbox"), pod.id);
    const [protocol, address] = pod.address.split(/\+(.*)/s) as [string, string];
    await writeFile(
      join(bundle, "bootstrap.json"),
      JSON.stringify({ version: pod.version, address, protocol }),
    );
    const io = await criFifos(join(this.f.dir, "io", id), id, c.stdin ?? false);
    const logFile = join(this.f.dir, "logs", `${c.name}.log`);
    await mkdir(join(this.f.dir, "logs"), { recursive: true });
    return { id, pod, bundle, fifos: io, logFile, logged: [], pid: 0 };
  }

  /**
   * StartContainer: NewTask (Tasks.Create with the snapshot's overlay mounts and
   * the FIFOs, then Connect for the pid), Wait before Start, then Start.
   */
  async startContainer(c: Ctr): Promise<void> {
    const rootfs = await overlaySnapshot(join(this.f.dir, "overlayfs"), c.id, this.layers);
    // The CRI logger opens the FIFOs before the task exists.
    c.logged = [
      criLogger(c.fifos.stdout, "stdout", c.logFile),
      criLogger(c.fifos.stderr, "stderr", c.logFile),
    ];
    await this.tasks.create({
      id: c.id,
      bundle: c.bundle,
      rootfs,
      stdin: c.fifos.stdin ?? "",
      stdout: c.fifos.stdout,
      stderr: c.fifos.stderr,
      // WithTaskAPIEndpoint: the sandbox's endpoint in the (deprecated) runc options.
      options: pack(OptionsSchema, {
        taskApiAddress: c.pod.address,
        taskApiVersion: c.pod.version,
      }),
    });
    c.pid = (await this.tasks.connect({ id: c.id })).taskPid;
    c.exited = this.tasks.wait({ id: c.id });
    c.exited.catch(() => undefined);
    await this.tasks.start({ id: c.id });
  }

  /**
   * ExecSync: Exec with its own FIFOs, Wait, Start; past the timeout the exec'd
   * process (not the container) is killed with SIGKILL; then the exec is deleted.
   */
  async execSync(
    c: Ctr,
    args: string[],
    timeoutMs: number,
  ): Promise<{ stdout: string; exitCode: number; timedOut: boolean }> {
    const execId = randomBytes(8).toString("hex");
    const io = await fifos(this.f, `exec-${execId}`);
    const out = collect(io.stdout);
    const err = collect(io.stderr);
    await this.tasks.exec({
      id: c.id,
      execId,
      stdout: io.stdout,
      stderr: io.stderr,
      spec: packJson(JsonTypeUrl.Process, {
        args,
        cwd: "/",
        env: ["PATH=/bin:/usr/bin"],
        user: { uid: 0, gid: 0 },
      }),
    });
    const exited = this.tasks.wait({ id: c.id, execId });
    await this.tasks.start({ id: c.id, execId });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">(
      (r) => (timer = setTimeout(() => r("timeout"), timeoutMs)),
    );
    const first = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    let timedOut = false;
    if (first === "timeout") {
      timedOut = true;
      await this.tasks.kill({ id: c.id, execId, signal: 9 });
    }
    const { exitStatus } = await exited;
    const stdout = await out;
    await err;
    await this.tasks.delete({ id: c.id, execId });
    return { stdout, exitCode: exitStatus, timedOut };
  }

  /** UpdateContainerResources: Task.Update with OCI LinuxResources. */
  async updateContainerResources(c: Ctr, resources: Record<string, unknown>): Promise<void> {
    await this.tasks.update({
      id: c.id,
      resources: packJson(JsonTypeUrl.LinuxResources, resources),
    });
  }

  /**
   * StopContainer: the stop signal, Wait up to the timeout, then SIGKILL; the
   * exit monitor's handleContainerExit then deletes the task (Delete, Shutdown).
   */
  async stopContainer(c: Ctr, timeoutMs: number): Promise<number> {
    await this.tasks.kill({ id: c.id, signal: 15 });
    const exited = this.tasks.wait({ id: c.id });
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([
      exited,
      new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (first === "timeout") await this.tasks.kill({ id: c.id, signal: 9 });
    const { exitStatus } = await exited;
    await this.handleContainerExit(c);
    return exitStatus;
  }

  /** handleContainerExit: task.Delete(WithProcessKill) → shim Delete, then Shutdown. */
  async handleContainerExit(c: Ctr): Promise<void> {
    await this.tasks.delete({ id: c.id });
    await this.tasks.shutdown({ id: c.id });
    await Promise.all(c.logged);
  }

  /** RemoveContainer: the container record and its snapshot go; the bundle was the task's. */
  async removeContainer(c: Ctr): Promise<void> {
    await rm(c.bundle, { recursive: true, force: true });
    await rm(join(this.f.dir, "overlayfs", "snapshots", c.id), { recursive: true, force: true });
    await rm(join(this.f.dir, "io", c.id), { recursive: true, force: true });
  }

  /** StopPodSandbox: controller.Stop, then CRI tears the pod network down and removes the netns. */
  async stopPodSandbox(pod: Pod): Promise<void> {
    await this.controller.stop({ sandboxId: pod.id, timeoutSecs: 0, sandboxer });
    if (pod.netnsName) await removeNetns(pod.netnsName);
  }

  /** RemovePodSandbox: controller.Shutdown (then the sandbox store record goes). */
  async removePodSandbox(pod: Pod): Promise<void> {
    await this.controller.shutdown({ sandboxId: pod.id, sandboxer });
  }
}

/** Two image layers as the overlayfs snapshotter keeps them: busybox, and one with a file. */
export async function imageLayers(f: Fixture): Promise<string[]> {
  const base = join(f.dir, "overlayfs", "snapshots", "1", "fs");
  const top = join(f.dir, "overlayfs", "snapshots", "2", "fs");
  await cp(f.rootfs, base, { recursive: true, verbatimSymlinks: true });
  await mkdir(join(top, "etc"), { recursive: true });
  await writeFile(join(top, "etc", "layer2"), "from the second layer\n");
  return [top, base];
}
