/**
 * `sandboxd.sandboxer.v1.Sandboxer`, the private service next to containerd's:
 * the short-lived shim registers its caller's events endpoint and delegates its
 * `delete`; sandboxd pauses and resumes whole sandboxes.
 */
import { ts } from "../util/time.js";
import { Sandboxer as SandboxerService } from "@sandboxd/api/sandboxd/sandboxer/v1/sandboxer_pb";
import type { Ctx } from "@sandboxd/core";
import { validateIdentifier, withLogFields } from "@sandboxd/core";
import { invalidArgument } from "@sandboxd/errdefs";
import type { Server, ServiceImpl } from "@sandboxd/ttrpc";
import type { EventsRegistry } from "../events/registry.js";
import type { Tasks } from "../tasks.js";
import { ttrpcCtx } from "./context.js";
import { taskApiVersion } from "./sandbox-api.js";

const sandboxerVersion = "0.1.0";

export interface AdminDeps {
  root: Ctx;
  tasks: Tasks;
  events: EventsRegistry;
}

export function registerAdminService(server: Server, deps: AdminDeps): void {
  server.register(SandboxerService, adminService(deps));
}

export function adminService(deps: AdminDeps): ServiceImpl<typeof SandboxerService> {
  const { root, tasks, events } = deps;
  const sb = tasks.sb;
  return {
    async register(req, call) {
      validateIdentifier(req.namespace);
      if (req.ttrpcAddress && !req.ttrpcAddress.startsWith("/")) {
        throw invalidArgument(
          `ttrpc_address ${JSON.stringify(req.ttrpcAddress)}: must be a socket path`,
        );
      }
      if (req.ttrpcAddress) await events.register(req.namespace, req.ttrpcAddress);
      ttrpcCtx(root, call).log.debug(
        { namespace: req.namespace, address: req.ttrpcAddress },
        "events endpoint registered",
      );
      return {
        taskAddress: `unix://${sb.env.config.taskSocket}`,
        version: taskApiVersion,
        pid: process.pid,
      };
    },
    async cleanupTask(req, call) {
      validateIdentifier(req.namespace);
      const ctx = withLogFields(ttrpcCtx(root, call), { namespace: req.namespace, id: req.id });
      const c = sb.containers.get(req.namespace, req.id);
      if (!c || c.deleted) {
        const past = tasks.recent.get(req.namespace, req.id);
        return past
          ? { pid: past.pid, exitStatus: past.exitStatus, exitedAt: ts(past.exitedAt) }
          : { pid: 0, exitStatus: 137, exitedAt: ts(Date.now()) };
      }
      if (c.rec.status === "running") {
        await c.kill(ctx, 9, true).catch(() => undefined);
        await Promise.race([c.init.exited, new Promise((r) => setTimeout(r, 5000).unref())]);
        await c.init.checkMonitor();
      }
      const exit = await tasks.delete(ctx, req.namespace, req.id, "");
      ctx.log.info({ exit_status: exit.exitStatus }, "task cleaned up by the shim's delete");
      return { pid: exit.pid, exitStatus: exit.exitStatus, exitedAt: ts(exit.exitedAt) };
    },
    async pauseSandbox(req, call) {
      await sb.setPaused(ttrpcCtx(root, call), req.namespace, req.sandboxId, true);
      return {};
    },
    async resumeSandbox(req, call) {
      await sb.setPaused(ttrpcCtx(root, call), req.namespace, req.sandboxId, false);
      return {};
    },
    info() {
      return {
        pid: process.pid,
        version: sandboxerVersion,
        stateDir: sb.env.config.stateDir,
        sandboxes: sb.pods.size,
        containers: sb.containers.size,
        recoveryMs: sb.recoveryMs,
      };
    },
  };
}
