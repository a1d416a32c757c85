import type { Parsed } from "@sandboxd/core/args";
import type { eventsCommandFlags } from "../specs/other.js";
import type { Context } from "../context.js";
import { normalizeFilter } from "../filters.js";
import { eventFields, eventText } from "./event-format.js";

export async function run(
  ctx: Context,
  { flags, positionals }: Parsed<typeof eventsCommandFlags>,
): Promise<number> {
  const client = await ctx.client();
  const scope = `namespace==${client.namespace}`;
  const given = positionals.map(normalizeFilter);
  const filters = flags["all-namespaces"]
    ? given
    : given.length
      ? given.map((f) => `${f},${scope}`)
      : [scope];
  const stop = new AbortController();
  const stopSignals = ctx.caller.onSignals(["SIGINT", "SIGTERM"], () => stop.abort());
  try {
    for await (const e of client.subscribe(filters, { signal: stop.signal })) {
      if (ctx.globals.output === "json") {
        // One object per line, so scripts can read the stream as it comes.
        ctx.stdout.write(
          `${JSON.stringify({
            timestamp: e.timestamp?.toISOString() ?? null,
            namespace: e.namespace,
            topic: e.topic,
            type: e.event?.$typeName ?? e.payload?.typeUrl ?? null,
            event: e.event ? eventFields(e.event) : null,
          })}\n`,
        );
      } else {
        ctx.print(
          [
            e.timestamp?.toISOString() ?? "-",
            e.namespace,
            e.topic,
            e.event ? eventText(e.event) : "",
          ]
            .join("  ")
            .trimEnd(),
        );
      }
    }
  } finally {
    stopSignals();
  }
  return 0;
}
