/** What every part of the sandboxer shares: config, state layout, cgroups, events, the root context. */
import type { CgroupMigrationWarmer, Ctx } from "@sandboxd/core";
import type { Config } from "./config/config.js";
import type { EventPublisher } from "./events/forwarder.js";
import type { Cgroups } from "./pod/cgroups.js";
import type { NetworkPool } from "./pod/network-pool.js";
import type { Layout } from "./state/layout.js";

export interface Env {
  config: Config;
  layout: Layout;
  cgroups: Cgroups;
  events: EventPublisher;
  /** Pod networks made ahead of time (none unless configured). */
  networks: NetworkPool;
  /** Held while runc creates a container or an exec: its cgroup writes skip a grace period. */
  migrations: CgroupMigrationWarmer;
  /** The daemon's root context: long-lived work (exit watchers) derives from it. */
  root: Ctx;
}
