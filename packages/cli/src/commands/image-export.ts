// sbx image export FILE|- IMAGE...: the daemon streams an OCI archive (with docker's
// manifest.json) of the images over transfer.v1; written to FILE through a temporary
// name, so a failed export leaves no partial file behind.
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Parsed } from "@sandboxd/core/args";
import type { imageExportFlags } from "../specs/image.js";
import { callerPath } from "../caller.js";
import type { Context } from "../context.js";
import { findImage } from "./image-common.js";

export async function run(
  ctx: Context,
  { flags, positionals }: Parsed<typeof imageExportFlags>,
): Promise<number> {
  const [file = "", ...refs] = positionals;
  const client = await ctx.client();
  const names: string[] = [];
  for (const ref of refs) names.push((await findImage(client, ref)).name);
  const archive = Readable.from(
    client.exportImage(names, {
      platform: flags.platform,
      skipDockerManifest: flags["skip-manifest-json"],
    }),
  );
  if (file === "-") {
    await pipeline(archive, ctx.stdout, { end: false });
    return 0;
  }
  const target = callerPath(ctx.caller, file);
  const partial = `${target}.partial-${process.pid}`;
  try {
    await pipeline(archive, createWriteStream(partial, { mode: 0o644 }));
    await rename(partial, target);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  return 0;
}
