// sbx pull IMAGE: the daemon pulls (resolve, fetch, record, unpack) and streams progress,
// shown live on a terminal, as plain lines otherwise, as JSON lines with -o json.
import type { Writable } from "node:stream";
import type { Parsed } from "@sandboxd/core/args";
import type { pullFlags } from "../specs/image.js";
import type { Context } from "../context.js";
import { PullProgress, type ProgressMode } from "./pull-progress.js";

function credentialsOf(
  ctx: Context,
  flags: Parsed<typeof pullFlags>["flags"],
): { username?: string; password?: string } | undefined {
  const user = flags.user ?? ctx.env.SBX_REGISTRY_USER;
  if (user === undefined) return undefined;
  const colon = user.indexOf(":");
  if (colon >= 0) return { username: user.slice(0, colon), password: user.slice(colon + 1) };
  return { username: user, password: ctx.env.SBX_REGISTRY_PASSWORD ?? "" };
}

export async function run(
  ctx: Context,
  { flags, positionals }: Parsed<typeof pullFlags>,
): Promise<number> {
  const reference = positionals[0] ?? "";
  const mode: ProgressMode =
    ctx.globals.output === "json"
      ? "json"
      : (ctx.stdout as Writable & { isTTY?: boolean }).isTTY
        ? "tty"
        : "plain";
  const progress = new PullProgress(ctx.stdout, mode);
  const client = await ctx.client();
  const controller = new AbortController();
  const stopSignals = ctx.caller.onSignals(["SIGINT"], () => controller.abort());
  try {
    const credentials = credentialsOf(ctx, flags);
    await client.pull(reference, {
      platform: flags.platform,
      signal: controller.signal,
      onProgress: (e) => progress.event(e),
      ...(credentials ? { credentials } : {}),
    });
  } finally {
    stopSignals();
  }
  return 0;
}
