/**
 * The unpack worker thread: applies one layer with synchronous fs calls, off
 * the daemon's event loop. Receives an ApplyJob, answers with the
 * LayerResult or a serialised error (message, errno code, errdefs kind).
 */
import { parentPort, workerData } from "node:worker_threads";
import { isErrdefsError } from "@sandboxd/errdefs";
import { LayerApplier, type ApplyOptions } from "./apply.js";
import { readLayer } from "./layer.js";

export interface ApplyJob extends ApplyOptions {
  blobPath: string;
}

async function run(job: ApplyJob): Promise<void> {
  const applier = new LayerApplier(job);
  try {
    const result = await readLayer(job.blobPath, applier);
    applier.finish();
    parentPort?.postMessage({ ok: true, result });
  } catch (err) {
    try {
      applier.finish();
    } catch {
      // the first error is the one to report
    }
    const e = err as NodeJS.ErrnoException;
    parentPort?.postMessage({
      ok: false,
      error: {
        message: e.message,
        code: e.code,
        kind: isErrdefsError(err) ? err.kind : undefined,
      },
    });
  }
}

void run(workerData as ApplyJob);
