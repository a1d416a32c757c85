// What the words after `sbx run`'s flags mean. nerdctl and podman users type
// `sbx run IMAGE [CMD...]`; sbx's own form is `sbx run ID [CMD...]` (busybox, --rootfs or
// --image). The first word is an image when it looks like one (has `/`, `:` or `@`) or
// when --name gives the id; a plain word stays an id. A plain word that also names an
// image the daemon has is refused: either reading would surprise someone.
import { randomBytes } from "node:crypto";
import type { Client } from "@sandboxd/client";
import { UsageError } from "@sandboxd/core/args";
import { invalidArgument, isInvalidArgument, isNotFound } from "@sandboxd/errdefs";
import { findImage, fullImageName } from "./image-common.js";

export interface RunTarget {
  /** The container (and, without --sandbox, the sandbox) id. */
  id: string;
  /** The image reference as typed (pulled when missing), if the container is made from one. */
  image: string | undefined;
  command: string[];
}

export interface TargetFlags {
  name?: string | undefined;
  image?: string | undefined;
  rootfs?: string | undefined;
}

export function looksLikeImage(word: string): boolean {
  return /[/:@]/.test(word);
}

/** An id for a container run from an image without --name: `<repository>-<6 hex>`, as nerdctl does. */
export function generatedId(image: string): string {
  const path = image.replace(/@.*$/, "");
  const last = path.slice(path.lastIndexOf("/") + 1).replace(/:.*$/, "");
  const base = last.replace(/[^A-Za-z0-9_.-]/g, "").replace(/^[^A-Za-z0-9]+/, "") || "container";
  return `${base.slice(0, 40)}-${randomBytes(3).toString("hex")}`;
}

// How sbx was called, not what the daemon has: exit status 2 and a pointer to --help.
function imageLooking(word: string, why: string): Error {
  return new UsageError(
    `run: "${word}" looks like an image reference, but ${why}; ` +
      `a container id has no "/", ":" or "@" (give the id with --name)`,
    "run",
  );
}

export async function runTarget(
  client: Client,
  flags: TargetFlags,
  positionals: readonly string[],
): Promise<RunTarget> {
  const [first, ...rest] = positionals;
  if (flags.image !== undefined && flags.rootfs !== undefined)
    throw invalidArgument("run: --image and --rootfs cannot be used together");
  if (flags.name !== undefined) {
    // --name is the id; the first word is the image unless one is given otherwise.
    if (flags.image !== undefined || flags.rootfs !== undefined)
      return { id: flags.name, image: flags.image, command: [...positionals] };
    if (first === undefined) throw new UsageError("run: --name NAME needs an IMAGE to run", "run");
    return { id: flags.name, image: first, command: rest };
  }
  if (first === undefined)
    throw new UsageError('"sbx run" needs an IMAGE or a container ID', "run");
  if (flags.image !== undefined || flags.rootfs !== undefined) {
    if (looksLikeImage(first))
      throw imageLooking(first, `--${flags.image !== undefined ? "image" : "rootfs"} was given`);
    return { id: first, image: flags.image, command: rest };
  }
  if (looksLikeImage(first)) return { id: generatedId(first), image: first, command: rest };
  const existing = await findImage(client, first).catch((err: unknown) => {
    // An id that is no valid image name cannot name an image either.
    if (isNotFound(err) || isInvalidArgument(err)) return undefined;
    throw err;
  });
  if (existing) {
    throw new UsageError(
      `run: "${first}" is ambiguous: a plain word is a container id (run on busybox), ` +
        `but the image ${existing.name} exists too; to run the image, write ` +
        `${fullImageName(first)} (or --name ID ${first}); to keep the id, rename it`,
      "run",
    );
  }
  return { id: first, image: undefined, command: rest };
}
