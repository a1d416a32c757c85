// sbx image import FILE|-: the archive (OCI layout or docker save tar) streams to the
// daemon over transfer.v1 (as containerd 2.x's ctr does); the daemon verifies every
// blob before committing, records the names and unpacks.
import { createReadStream } from "node:fs";
import type { Parsed } from "@sandboxd/core/args";
import type { imageImportFlags } from "../specs/image.js";
import { callerPath } from "../caller.js";
import type { Context } from "../context.js";

export async function run(
  ctx: Context,
  { flags, positionals }: Parsed<typeof imageImportFlags>,
): Promise<number> {
  const file = positionals[0] ?? "";
  const source = file === "-" ? ctx.caller.stdin : createReadStream(callerPath(ctx.caller, file));
  // Open errors (ENOENT, EACCES) surface here, naming the file, before anything is sent.
  await new Promise<void>((resolve, reject) => {
    if (file === "-") return resolve();
    source.once("open", () => resolve());
    source.once("error", reject);
  });
  const client = await ctx.client();
  const names = await client.importImage(source, {
    baseName: flags["base-name"],
    platform: flags.platform,
    unpack: !flags["no-unpack"],
  });
  if (ctx.globals.output === "json") ctx.printJson(names.map((name) => ({ name })));
  else for (const name of names) ctx.print(name);
  return 0;
}
