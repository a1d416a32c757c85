/**
 * Applying layers from the event loop's side: each apply runs in its own
 * worker thread (the apply itself is synchronous syscalls), so the daemon
 * keeps answering while a 100 MB layer lands. Also containerd's chain IDs.
 */
import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
import {
  canceled,
  ErrdefsError,
  invalidArgument,
  notImplemented,
  resourceExhausted,
  unknown,
  type Kind,
} from "@sandboxd/errdefs";
import type { Ctx } from "@sandboxd/core";
import type { Mount } from "../snapshots/types.js";
import type { LayerResult } from "./layer.js";
import type { ApplyJob } from "./worker.js";

const workerUrl = new URL("./worker.js", import.meta.url);

/** Applies the layer blob at `blobPath` into a directory (see ApplyOptions). */
export function applyLayerFile(ctx: Ctx, job: ApplyJob): Promise<LayerResult> {
  return new Promise((resolve, reject) => {
    if (ctx.signal.aborted) {
      reject(canceled("apply layer"));
      return;
    }
    const worker = new Worker(workerUrl, { workerData: job });
    let settled = false;
    const onAbort = (): void => {
      void worker.terminate();
      finish(() => reject(canceled("apply layer")));
    };
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      ctx.signal.removeEventListener("abort", onAbort);
      fn();
    };
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    worker.once("message", (msg: { ok: boolean; result?: LayerResult; error?: WorkerError }) => {
      finish(() => (msg.ok ? resolve(msg.result as LayerResult) : reject(toError(msg.error))));
    });
    worker.once("error", (err: unknown) =>
      finish(() => reject(err instanceof Error ? err : new Error(String(err)))),
    );
    worker.once("exit", (code) =>
      finish(() => reject(unknown(`unpack worker exited with code ${code}`))),
    );
  });
}

/**
 * Applies a layer onto snapshot mounts (Diff.Apply): one overlay mount with an
 * upperdir is applied straight into the upperdir with overlay whiteouts, its
 * lowerdirs as parents; a bind mount is applied into its source directory.
 */
export function applyLayer(ctx: Ctx, blobPath: string, mounts: Mount[]): Promise<LayerResult> {
  return applyLayerFile(ctx, { blobPath, ...applyTarget(mounts) });
}

export function applyTarget(mounts: Mount[]): {
  root: string;
  overlay: boolean;
  parents: string[];
} {
  const [m] = mounts;
  if (mounts.length !== 1 || !m) {
    throw invalidArgument(`apply: expected one mount, got ${mounts.length}`);
  }
  if (m.type === "bind" || m.type === "rbind") {
    if (m.options.includes("ro")) throw invalidArgument("apply: mount is read-only");
    return { root: m.source, overlay: false, parents: [] };
  }
  if (m.type === "overlay") {
    const opt = (name: string): string | undefined =>
      m.options.find((o) => o.startsWith(`${name}=`))?.slice(name.length + 1);
    const upper = opt("upperdir");
    if (!upper) throw invalidArgument("apply: overlay mount has no upperdir");
    return {
      root: upper,
      overlay: true,
      parents: (opt("lowerdir") ?? "").split(":").filter(Boolean),
    };
  }
  throw notImplemented(`apply: unsupported mount type ${JSON.stringify(m.type)}`);
}

/** containerd's identity.ChainIDs. */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out.at(-1);
    out.push(prev ? `sha256:${createHash("sha256").update(`${prev} ${d}`).digest("hex")}` : d);
  }
  return out;
}

interface WorkerError {
  message: string;
  code?: string;
  kind?: Kind;
}

function toError(e: WorkerError | undefined): Error {
  if (!e) return unknown("unpack worker failed");
  if (e.code === "ENOSPC" || e.code === "EDQUOT") {
    return resourceExhausted(`apply layer: no space left on device: ${e.message}`);
  }
  if (e.kind) return new ErrdefsError(e.kind, e.message);
  return unknown(`apply layer: ${e.message}`);
}
