/**
 * The Sandbox API once, served twice: as gRPC `containerd.services.sandbox.v1.Controller`
 * (containerd 2.x `[proxy_plugins]`, sandboxd) and as ttrpc
 * `containerd.runtime.sandbox.v1.Sandbox` (the shim sandbox controller). Both
 * transports map their messages onto these calls. Stop and Shutdown of a
 * sandbox that is already gone succeed.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Any } from "@bufbuild/protobuf/wkt";
import { JsonTypeUrl, unpackJson } from "../util/any.js";
import type { Ctx } from "@sandboxd/core";
import { invalidArgument, isNotFound } from "@sandboxd/errdefs";
import type { OciSpec } from "../container/spec.js";
import { decodePodSandboxConfig, isPodSandboxConfig } from "../pod/pod-config.js";
import type { Sandboxer, SandboxStatus } from "../sandboxer.js";

/** The task API version served on the task socket (v2 is served too). */
export const taskApiVersion = 3;

export interface CreateArgs {
  id: string;
  netnsPath: string;
  annotations: Record<string, string>;
  labels: Record<string, string>;
  spec?: Any | undefined;
  /** Create's options: containerd 2.x's CRI sends the PodSandboxConfig here. */
  options?: Any | undefined;
  /** ttrpc CreateSandbox: the bundle whose config.json is the sandbox spec. */
  bundlePath?: string | undefined;
}

export class SandboxApi {
  readonly sb: Sandboxer;
  /** `ttrpc+unix://<task socket>`: where containerd reaches the tasks of every sandbox. */
  readonly taskAddress: string;

  constructor(sb: Sandboxer) {
    this.sb = sb;
    this.taskAddress = `ttrpc+unix://${sb.env.config.taskSocket}`;
  }

  async create(ctx: Ctx, ns: string, a: CreateArgs): Promise<void> {
    let spec: OciSpec | undefined;
    if (a.spec && a.spec.value.length > 0) {
      if (a.spec.typeUrl !== JsonTypeUrl.Spec) {
        throw invalidArgument(
          `sandbox ${JSON.stringify(a.id)}: spec type ${JSON.stringify(a.spec.typeUrl)} is not an OCI spec`,
        );
      }
      spec = unpackJson(a.spec) as OciSpec;
    } else if (a.bundlePath) {
      const text = await readFile(join(a.bundlePath, "config.json"), "utf8").catch(() => undefined);
      if (text !== undefined) spec = JSON.parse(text) as OciSpec;
    }
    const podConfig =
      a.options && a.options.value.length > 0 && isPodSandboxConfig(a.options.typeUrl)
        ? decodePodSandboxConfig(a.options.value)
        : undefined;
    await this.sb.createSandbox(ctx, ns, {
      id: a.id,
      netnsPath: a.netnsPath || undefined,
      annotations: a.annotations,
      labels: a.labels,
      spec,
      podConfig,
    });
  }

  /** Start; containerd 1.7's ctr starts without creating, so an unknown id is created first. */
  async start(
    ctx: Ctx,
    ns: string,
    id: string,
  ): Promise<{ pid: number; createdAt: number; labels: Record<string, string> }> {
    try {
      this.sb.pod(ns, id);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.sb.createSandbox(ctx, ns, { id });
    }
    const pod = await this.sb.startSandbox(ctx, ns, id);
    return {
      pid: pod.reportedPid,
      createdAt: pod.rec.createdAt,
      labels: pod.rec.labels,
    };
  }

  async stop(ctx: Ctx, ns: string, id: string, timeoutSecs: number): Promise<void> {
    await this.sb.stopSandbox(ctx, ns, id, timeoutSecs * 1000);
  }

  wait(ctx: Ctx, ns: string, id: string): Promise<{ exitStatus: number; exitedAt: number }> {
    return this.sb.waitSandbox(ctx, ns, id);
  }

  status(ns: string, id: string): SandboxStatus {
    return this.sb.status(ns, id);
  }

  async shutdown(ctx: Ctx, ns: string, id: string): Promise<void> {
    await this.sb.shutdownSandbox(ctx, ns, id);
  }

  metrics(ns: string, id: string) {
    return this.sb.metrics(ns, id);
  }

  platform(ns: string, id: string) {
    this.sb.pod(ns, id);
    return this.sb.platform();
  }

  async update(
    ns: string,
    id: string,
    labels: Record<string, string> | undefined,
    fields: readonly string[],
  ): Promise<void> {
    const all = fields.length === 0;
    const wantsLabels = all || fields.some((f) => f === "labels" || f.startsWith("labels."));
    if (!wantsLabels || !labels) {
      this.sb.pod(ns, id);
      return;
    }
    const current = { ...this.sb.pod(ns, id).rec.labels };
    if (all || fields.includes("labels")) {
      await this.sb.updateSandbox(ns, id, { labels });
      return;
    }
    for (const f of fields) {
      if (!f.startsWith("labels.")) continue;
      const key = f.slice("labels.".length);
      const value = labels[key];
      if (value === undefined) delete current[key];
      else current[key] = value;
    }
    await this.sb.updateSandbox(ns, id, { labels: current });
  }
}
