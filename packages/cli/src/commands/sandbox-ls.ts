import type { Parsed } from "@sandboxd/core/args";
import type { sandboxLsFlags } from "../specs/sandbox.js";
import type { Context } from "../context.js";
import { normalizeFilter } from "../filters.js";
import { ago, iso, labelsCell, table } from "../output.js";
import { containersBySandbox, stateWord, statusOf } from "./common.js";

export async function run(
  ctx: Context,
  { flags, positionals }: Parsed<typeof sandboxLsFlags>,
): Promise<number> {
  const client = await ctx.client();
  const sandboxes = await client.sandboxes(positionals.map(normalizeFilter));
  if (flags.quiet) {
    for (const s of sandboxes) ctx.print(s.id);
    return 0;
  }
  const [statuses, members] = await Promise.all([
    Promise.all(sandboxes.map(statusOf)),
    containersBySandbox(client),
  ]);
  const rows = sandboxes.map((s, i) => ({
    id: s.id,
    state: statuses[i]?.state ?? "",
    pid: statuses[i]?.pid ?? 0,
    runtime: s.info.runtime.name,
    sandboxer: s.info.sandboxer,
    containers: members.get(s.id) ?? [],
    labels: s.info.labels,
    createdAt: s.info.createdAt,
  }));
  if (ctx.globals.output === "json") {
    ctx.printJson(rows.map((r) => ({ ...r, createdAt: iso(r.createdAt) })));
    return 0;
  }
  ctx.stdout.write(
    table(
      ["SANDBOX", "STATE", "PID", "RUNTIME", "SANDBOXER", "CONTAINERS", "CREATED", "LABELS"],
      rows.map((r, i) => [
        r.id,
        stateWord(statuses[i]),
        r.pid ? String(r.pid) : "-",
        r.runtime,
        r.sandboxer || "-",
        String(r.containers.length),
        ago(r.createdAt),
        labelsCell(r.labels),
      ]),
    ),
  );
  return 0;
}
