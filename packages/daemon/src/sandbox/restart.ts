/**
 * Picking sandboxes up again after a restart (kill -9 included): controllers
 * reconnect to what they left running; every instance row is looked at:
 * - `creating` (a crash during the controller's Create): undone — the
 *   controller shuts it down (force) and the row goes, so the sandbox is a
 *   Store row only (Status NotFound, nothing in the sandboxer);
 * - `created` / `started`: tracked, its status asked again and (started)
 *   its exit monitor re-armed, in the background: an unreachable sandboxer
 *   is retried with backoff and the sandbox is NOTREADY meanwhile;
 * - a sandbox a controller holds with no instance row is shut down.
 */
import { withLogFields, withNamespace, type Ctx } from "@sandboxd/core";
import type { SandboxStore } from "../metadata/sandboxes.js";
import { InstanceState, type SandboxInstance } from "../metadata/types.js";
import type { SandboxController } from "./controller.js";
import { endpointOf, type Controllers } from "./routing.js";
import type { Watch } from "./watch.js";

export interface RecoverDeps {
  controllers: Controllers;
  store: SandboxStore;
  watch: Watch;
  /** Undoes an interrupted create, under the sandbox's lock. */
  undoCreate: (ctx: Ctx, id: string, controller: SandboxController) => Promise<void>;
}

export interface Recovered {
  sandboxes: number;
  undone: number;
  /** Background work (undos, status asks, orphan shutdowns); for tests to await. */
  settled: Promise<void>;
}

export async function recover(ctx: Ctx, deps: RecoverDeps): Promise<Recovered> {
  const { controllers, store, watch } = deps;
  const background: Promise<unknown>[] = [];
  const found = new Set<string>();
  for (const controller of controllers.all()) {
    for (const f of await controller.load(ctx))
      found.add(`${controller.name}/${f.namespace}/${f.id}`);
  }
  let sandboxes = 0;
  let undone = 0;
  for (const instance of store.allInstances()) {
    found.delete(`${instance.sandboxer}/${instance.namespace}/${instance.id}`);
    const c = withLogFields(withNamespace(ctx, instance.namespace), {
      sandbox_id: instance.id,
      sandboxer: instance.sandboxer,
    });
    if (instance.state === InstanceState.Creating) {
      undone++;
      const controller = controllers.get(instance.sandboxer);
      if (controller) background.push(deps.undoCreate(c, instance.id, controller));
      continue;
    }
    sandboxes++;
    background.push(resume(c, watch, instance));
  }
  for (const orphan of found) {
    const [name = "", namespace = "", id = ""] = orphan.split("/");
    const c = withNamespace(ctx, namespace);
    c.log.warn(
      { sandbox_id: id, sandboxer: name },
      "shutting down a sandbox with no instance record",
    );
    const controller = controllers.get(name);
    if (!controller) continue;
    background.push(
      controller.shutdown(c, id, true).catch((err: unknown) => {
        c.log.warn({ error: err, sandbox_id: id }, "shutting down an orphaned sandbox");
      }),
    );
  }
  const settled = Promise.allSettled(background).then(() => undefined);
  return { sandboxes, undone, settled };
}

function resume(
  ctx: Ctx,
  watch: Watch,
  instance: SandboxInstance & { namespace: string },
): Promise<unknown> {
  const live = watch.track(
    instance.namespace,
    instance.id,
    instance.sandboxer,
    endpointOf(instance),
  );
  if (instance.state === InstanceState.Started) void watch.arm(live);
  return watch.status(ctx, live, false).catch((err: unknown) => {
    ctx.log.warn({ error: err }, "sandbox status after restart");
  });
}
