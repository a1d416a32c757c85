/**
 * sbx-sandboxer as a node service and sandboxd reaching it as its proxy
 * sandbox controller (`[proxy_plugins.sbx] type = "sandbox"`), the way a node
 * runs them: the sandboxer forwards its events to sandboxd's ttrpc socket.
 * stack.ts's `openStack({ mode: "proxy" })` builds on it (temp dir, rootfs,
 * leak baseline, clean-up); the CRI suite uses it in dirs of its own.
 */
import { join } from "node:path";
import { sandboxdPaths, startSandboxd, type Sandboxd, type SandboxdOptions } from "./sandboxd.js";
import { startSandboxer, type RunningSandboxer, type SandboxerConfigOptions } from "./sandboxer.js";

/** The proxy plugin name sandboxd knows the sandboxer by. */
export const proxySandboxerName = "sbx";

export interface ProxyStackOptions {
  /** sandboxd's directory (root, state, sockets, config, log). */
  sandboxdDir: string;
  /** The sandboxer's directory (its state dir is below it). */
  sandboxerDir: string;
  /** The sandboxer's config, beyond its directory and events address. */
  sandboxer?: Omit<SandboxerConfigOptions, "dir" | "eventsAddress">;
  /** sandboxd's options, beyond its directory and the proxy plugin. */
  sandboxd?: Omit<SandboxdOptions, "dir" | "proxyPlugins">;
}

export interface ProxyStack {
  readonly sandboxer: RunningSandboxer;
  /** The sandboxd running now (a new one after `restartSandboxd`). */
  readonly sandboxd: Sandboxd;
  /** kill -9 sandboxd and start it again on the same root, state and config. */
  restartSandboxd(): Promise<Sandboxd>;
  /** Stops sandboxd, then the sandboxer (their pods are the caller's to remove first). */
  stop(): Promise<void>;
}

export async function startProxyStack(o: ProxyStackOptions): Promise<ProxyStack> {
  const sandboxer = await startSandboxer({
    ...o.sandboxer,
    dir: o.sandboxerDir,
    eventsAddress: sandboxdPaths(o.sandboxdDir).ttrpcAddress,
  });
  const options: SandboxdOptions = {
    ...o.sandboxd,
    dir: o.sandboxdDir,
    proxyPlugins: { [proxySandboxerName]: { address: sandboxer.listen } },
  };
  let sandboxd: Sandboxd;
  try {
    sandboxd = await startSandboxd(options);
  } catch (err) {
    await sandboxer.stop();
    throw err;
  }
  return {
    sandboxer,
    get sandboxd() {
      return sandboxd;
    },
    async restartSandboxd() {
      await sandboxd.kill();
      sandboxd = await startSandboxd(options);
      return sandboxd;
    },
    async stop() {
      try {
        await sandboxd.stop();
      } finally {
        await sandboxer.stop();
      }
    },
  };
}

/** The usual layout under one test directory: sandboxd in `d`, the sandboxer in `sbx`. */
export function proxyStackDirs(dir: string): { sandboxdDir: string; sandboxerDir: string } {
  return { sandboxdDir: join(dir, "d"), sandboxerDir: join(dir, "sbx") };
}
