// Helpers shared by commands.
import type { Client, Sandbox, SandboxStatus } from "@sandboxd/client";
import { isNotFound } from "@sandboxd/errdefs";
import type { Context } from "../context.js";
import { describeError } from "../errors.js";

/**
 * Runs `action` for each id; a failure is reported and the others still run
 * (like `ctr rm a b`). Returns the exit status: 1 if any failed.
 */
export async function forEach(
  ctx: Context,
  ids: readonly string[],
  action: (id: string) => Promise<void>,
): Promise<number> {
  let status = 0;
  for (const id of ids) {
    try {
      await action(id);
    } catch (err) {
      status = 1;
      ctx.stderr.write(
        describeError(err, { address: ctx.globals.address, debug: ctx.globals.debug }).text,
      );
    }
  }
  return status;
}

/** A sandbox's status, or undefined if its controller does not know it. */
export async function statusOf(sandbox: Sandbox): Promise<SandboxStatus | undefined> {
  try {
    return await sandbox.status();
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** `SANDBOX_READY` → `ready`; no status → `unknown`. */
export function stateWord(status: SandboxStatus | undefined): string {
  if (!status) return "unknown";
  const state = status.state;
  if (state === "SANDBOX_READY") return "ready";
  if (state === "SANDBOX_NOTREADY") return "notready";
  return state.toLowerCase() || "unknown";
}

/** Container ids per sandbox id. */
export async function containersBySandbox(client: Client): Promise<Map<string, string[]>> {
  const map = new Map<string, string[]>();
  for (const c of await client.containerInfos()) {
    if (!c.sandbox) continue;
    const list = map.get(c.sandbox) ?? [];
    list.push(c.id);
    map.set(c.sandbox, list);
  }
  return map;
}
