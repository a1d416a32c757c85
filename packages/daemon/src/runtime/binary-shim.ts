/**
 * The runtime v2 path: one shim binary per container (containerd's
 * core/runtime/v2/binary.go). `start` runs `<shim> -namespace NS -address
 * GRPC -publish-binary SANDBOXD -id ID start` in the bundle with the options
 * Any on stdin, reads the address it prints, records `shim-binary-path` and
 * `bootstrap.json`, and connects. `delete` runs the binary's `delete`, which
 * prints a DeleteResponse; it is used after every task delete and for shims
 * found dead.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { AnySchema, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  invalidArgument,
  isInvalidArgument,
  isNotFound,
  messageOf,
  unknown,
  wrap,
} from "@sandboxd/errdefs";
import type { Ctx, Logger } from "@sandboxd/core";
import { deleteArgs, resolveShimBinary, shimBinaryName, startArgs } from "@sandboxd/shim";
import { DeleteResponseSchema } from "@sandboxd/api/runtime/task/v2/shim_pb";
import { exitText, run } from "@sandboxd/core";
import type { BootstrapInfo } from "./bootstrap.js";
import { parseStartOutput, writeBootstrap } from "./bootstrap.js";
import type { Bundle } from "./bundle.js";
import { BundleFile } from "./bundle.js";
import type { BinaryStartRequest, ExitInfo, Shim } from "./shim.js";
import { makeFifo, openShimLog, type FifoPool, type ShimLog } from "./shim-log.js";
import { connectTask, type TaskConnection } from "./task-client.js";

export interface BinaryShimsConfig {
  /** sandboxd's gRPC socket path (`-address`, GRPC_ADDRESS). */
  grpcAddress: string;
  /** sandboxd's ttrpc socket path (TTRPC_ADDRESS), where shims forward events. */
  ttrpcAddress: string;
  /** The sandboxd executable (`-publish-binary`). */
  publishBinary: string;
  /** Directories searched after PATH (the launcher's SANDBOXD_BIN_DIR). */
  extraDirs: readonly string[];
  /** Pass `-debug` to shims. */
  debug: boolean;
  /** The daemon's root logger (shim logs are copied into it). */
  log: Logger;
  /** Where log FIFOs are made ahead of time (same filesystem as the bundles). */
  fifoPool?: FifoPool | undefined;
}

const connectTimeoutMs = 5000;

export class BinaryShims {
  readonly #config: BinaryShimsConfig;
  readonly #env: NodeJS.ProcessEnv;
  readonly #resolved = new Map<string, string>();

  constructor(config: BinaryShimsConfig) {
    this.#config = config;
    this.#env = {
      ...process.env,
      GOMAXPROCS: "2",
      TTRPC_ADDRESS: config.ttrpcAddress,
      GRPC_ADDRESS: config.grpcAddress,
      MAX_SHIM_VERSION: "2",
    };
  }

  /** The shim binary for a runtime name or path; cached per name, as containerd does. */
  resolve(runtime: string): string {
    const cached = this.#resolved.get(runtime);
    if (cached !== undefined) return cached;
    let path: string;
    try {
      path = resolveShimBinary(runtime, { extraDirs: this.#config.extraDirs });
    } catch (err) {
      // A name that cannot name a shim is the caller's mistake; a well-formed name whose
      // binary is missing containerd says as a plain error, so the code is UNKNOWN.
      const why = unresolvedRuntime(runtime, err);
      const make = isInvalidArgument(err) ? invalidArgument : unknown;
      throw make(`failed to start shim: failed to resolve runtime path: ${why}`, { cause: err });
    }
    if (!runtime.startsWith("/")) this.#resolved.set(runtime, path);
    return path;
  }

  prepare(request: Omit<BinaryStartRequest, "bundle">): void {
    this.resolve(request.runtime);
  }

  async start(ctx: Ctx, request: BinaryStartRequest): Promise<BinaryShimHandle> {
    const { bundle } = request;
    const binary = this.resolve(request.runtime);
    const log = this.#shimLogger(bundle, request.runtime);
    // Before `start`, not after: a daemon killed once the shim runs can then still find
    // the binary whose `delete` cleans it up.
    bundle.writeNow(BundleFile.ShimBinaryPath, binary);
    const logPath = bundle.file(BundleFile.Log);
    await (this.#config.fifoPool ? this.#config.fifoPool.take(logPath) : makeFifo(logPath));
    const shimLog = await openShimLog(logPath, log);
    let started = false;
    let recorded: Promise<void> | undefined;
    try {
      const result = await run(ctx, binary, this.#args(bundle, "start"), {
        cwd: bundle.path,
        env: { ...this.#env, NAMESPACE: bundle.namespace },
        input: request.options ? toBinary(AnySchema, request.options) : undefined,
        detached: true,
      });
      const output = result.bytes.combined.toString("utf8").trim();
      if (result.code !== 0) {
        throw unknown(`failed to start shim: start failed: ${output}: ${exitText(result)}`);
      }
      started = true;
      let info: BootstrapInfo;
      try {
        info = parseStartOutput(result.bytes.combined);
      } catch (err) {
        throw wrap(err, "failed to start shim: start failed");
      }
      // What a restarted daemon needs to reconnect: written while the task is created (the
      // task manager awaits `recorded` before Create returns), off the path to the shim.
      recorded = writeBootstrap(bundle, info);
      recorded.catch(() => undefined);
      const connection = await connectTask(info.address, info.version, {
        namespace: bundle.namespace,
        signal: ctx.signal,
        timeoutMs: connectTimeoutMs,
      });
      return new BinaryShim(
        this,
        bundle,
        connection,
        binary,
        shimLog,
        info,
        plainOutput(result.bytes.combined),
        recorded,
      );
    } catch (err) {
      await recorded?.catch(() => undefined);
      if (started) await this.delete(ctx, bundle, binary).catch(() => undefined);
      shimLog.close();
      throw err;
    }
  }

  /** Reconnects to a running shim after a restart. */
  async load(ctx: Ctx, bundle: Bundle, info: BootstrapInfo): Promise<BinaryShimHandle> {
    const binary = (await bundle.read(BundleFile.ShimBinaryPath))?.trim() ?? "";
    const connection = await connectTask(info.address, info.version, {
      namespace: bundle.namespace,
      signal: ctx.signal,
      timeoutMs: connectTimeoutMs,
    });
    const log = this.#shimLogger(bundle, binary);
    const shimLog = await openShimLog(bundle.file(BundleFile.Log), log).catch(() => ({
      close: () => undefined,
    }));
    return new BinaryShim(
      this,
      bundle,
      connection,
      binary,
      shimLog,
      info,
      false,
      Promise.resolve(),
    );
  }

  /**
   * Runs the binary's `delete` for the bundle: it kills and removes what is
   * left of the container and prints a DeleteResponse. `binary` defaults to
   * the bundle's `shim-binary-path`; undefined when there is none or it fails.
   */
  async delete(ctx: Ctx, bundle: Bundle, binary?: string): Promise<ExitInfo | undefined> {
    const path = binary || (await bundle.read(BundleFile.ShimBinaryPath))?.trim();
    if (!path) return undefined;
    const log = ctx.log;
    const result = await run(ctx, path, this.#args(bundle, "delete"), {
      cwd: bundle.path,
      env: { ...this.#env, NAMESPACE: bundle.namespace },
    }).catch((err: unknown) => {
      log.warn({ error: err }, "failed to run shim delete");
      return undefined;
    });
    if (!result) return undefined;
    const stderr = result.stderr.trim();
    if (result.code !== 0) {
      log.warn({ error: `${stderr}: ${exitText(result)}` }, "shim delete failed");
      return undefined;
    }
    if (stderr !== "") log.debug({ stderr }, "shim delete warnings");
    try {
      const response = fromBinary(DeleteResponseSchema, result.bytes.stdout);
      return {
        pid: response.pid,
        exitStatus: response.exitStatus,
        exitedAt: response.exitedAt ? timestampMs(response.exitedAt) : Date.now(),
      };
    } catch (err) {
      log.warn({ error: err }, "unreadable DeleteResponse from shim delete");
      return undefined;
    }
  }

  #args(bundle: Bundle, action: "start" | "delete"): string[] {
    const common = {
      namespace: bundle.namespace,
      id: bundle.id,
      address: this.#config.grpcAddress,
      publishBinary: this.#config.publishBinary,
      debug: this.#config.debug,
    };
    return action === "start" ? startArgs(common) : deleteArgs({ ...common, bundle: bundle.path });
  }

  #shimLogger(bundle: Bundle, runtime: string): Logger {
    return this.#config.log.child({ namespace: bundle.namespace, id: bundle.id, runtime });
  }
}

/** A started (or reconnected) shim binary: its connection, bootstrap and binary. */
export interface BinaryShimHandle extends Shim {
  readonly kind: "binary";
  /** What `start` printed (or bootstrap.json said). */
  readonly bootstrap: BootstrapInfo;
  /** `start` printed a bare address, which carries no task API version (2 was assumed). */
  readonly plainOutput: boolean;
  readonly binary: string;
}

class BinaryShim implements BinaryShimHandle {
  readonly kind = "binary";
  readonly bundle: Bundle;
  readonly connection: TaskConnection;
  readonly bootstrap: BootstrapInfo;
  readonly plainOutput: boolean;
  readonly binary: string;
  readonly recorded: Promise<void>;
  readonly #shims: BinaryShims;
  readonly #log: ShimLog;

  constructor(
    shims: BinaryShims,
    bundle: Bundle,
    connection: TaskConnection,
    binary: string,
    log: ShimLog,
    bootstrap: BootstrapInfo,
    plain: boolean,
    recorded: Promise<void>,
  ) {
    this.#shims = shims;
    this.recorded = recorded;
    this.bundle = bundle;
    this.connection = connection;
    this.binary = binary;
    this.#log = log;
    this.bootstrap = bootstrap;
    this.plainOutput = plain;
  }

  cleanup(ctx: Ctx): Promise<ExitInfo | undefined> {
    return this.#shims.delete(ctx, this.bundle, this.binary);
  }

  release(): void {
    this.#log.close();
  }
}

/** Whether `start` printed a bare address (no JSON, no protobuf BootstrapResult). */
function plainOutput(output: Uint8Array): boolean {
  const text = Buffer.from(output).toString("utf8").trim();
  return !text.startsWith("{") && /^[\x20-\x7e]+$/.test(text);
}

/**
 * Why a runtime name resolves to no shim binary, as containerd says it:
 * `runtime "x" binary not installed "containerd-shim-x-v1": file does not exist`,
 * or the resolver's own reason (a malformed name).
 */
export function unresolvedRuntime(runtime: string, err: unknown): string {
  const binary = shimBinaryName(runtime);
  if (isNotFound(err) && binary !== undefined) {
    return `runtime ${JSON.stringify(runtime)} binary not installed ${JSON.stringify(binary)}: file does not exist`;
  }
  return messageOf(err);
}
