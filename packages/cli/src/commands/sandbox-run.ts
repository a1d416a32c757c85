import type { Parsed } from "@sandboxd/core/args";
import type { sandboxRunFlags } from "../specs/sandbox.js";
import { keyValues } from "@sandboxd/core/args";
import type { Context } from "../context.js";

export async function run(
  ctx: Context,
  { flags, positionals }: Parsed<typeof sandboxRunFlags>,
): Promise<number> {
  const id = positionals[0]!;
  const client = await ctx.client();
  const { defaultSpec } = await import("@sandboxd/client");
  const runtime = flags.runtime;
  const spec = defaultSpec({ id, namespace: client.namespace, hostname: id });
  delete spec.process;
  delete spec.root;
  const sandbox = await client.newSandbox(id, {
    ...(runtime ? { runtime: { name: runtime } } : {}),
    sandboxer: flags.sandboxer,
    labels: keyValues(flags.label, "label", "sandbox run"),
    spec,
  });
  try {
    const instance = await sandbox.start();
    if (ctx.globals.output === "json") {
      ctx.printJson({
        id,
        pid: instance.pid,
        address: instance.address,
        version: instance.version,
        createdAt: instance.createdAt?.toISOString() ?? null,
      });
    } else ctx.print(id);
    return 0;
  } catch (err) {
    // Nothing half-made: a sandbox that did not start is removed again.
    await sandbox.shutdown({ force: true }, { timeoutMs: 10_000 }).catch(() => undefined);
    throw err;
  }
}
