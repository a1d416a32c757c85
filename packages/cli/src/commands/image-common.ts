// Image names as people type them: `busybox` means docker.io/library/busybox:latest (the
// daemon keeps full names, as containerd's CRI and nerdctl do).
import type { Client, ImageInfo } from "@sandboxd/client";
import { isNotFound } from "@sandboxd/errdefs";

export function fullImageName(name: string): string {
  const at = name.indexOf("@");
  const base = at >= 0 ? name.slice(0, at) : name;
  const slash = base.indexOf("/");
  const first = slash >= 0 ? base.slice(0, slash) : "";
  const hasDomain = first !== "" && (/[.:]/.test(first) || first === "localhost");
  let full = hasDomain ? base : `docker.io/${slash >= 0 ? base : `library/${base}`}`;
  if (at < 0 && full.lastIndexOf(":") <= full.lastIndexOf("/")) full += ":latest";
  return at >= 0 ? `${full}${name.slice(at)}` : full;
}

/** The image named `name` as typed, else by its full name. */
export async function findImage(client: Client, name: string): Promise<ImageInfo> {
  try {
    return await client.getImage(name);
  } catch (err) {
    const full = fullImageName(name);
    if (!isNotFound(err) || full === name) throw err;
    return client.getImage(full);
  }
}
