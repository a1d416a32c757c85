// `sbx run IMAGE` and `sbx run --image REF`: the image's full name, pulled first (progress on stderr) when the
// daemon does not have it; and --user as a numeric uid[:gid] (for a rootfs directory).
import type { Client } from "@sandboxd/client";
import { invalidArgument, isNotFound } from "@sandboxd/errdefs";
import type { Context } from "../context.js";
import { findImage } from "./image-common.js";
import { PullProgress } from "./pull-progress.js";

export async function imageForRun(
  ctx: Context,
  client: Client,
  reference: string,
  platform?: string,
): Promise<string> {
  try {
    return (await findImage(client, reference)).name;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const progress = new PullProgress(ctx.stderr, "plain");
  const pulled = await client.pull(reference, { platform, onProgress: (e) => progress.event(e) });
  return pulled.name;
}

/** `uid[:gid]` of --user (names need an image's /etc/passwd). */
export function numericUser(user: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(user);
  if (!m) {
    throw invalidArgument(
      `run: --user "${user}" must be a numeric uid[:gid] without --image (names need an image's /etc/passwd)`,
    );
  }
  return { uid: Number(m[1]), gid: Number(m[2] ?? 0) };
}
