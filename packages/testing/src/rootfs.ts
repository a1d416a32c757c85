/**
 * The busybox root filesystem every test runs containers from, built by the
 * SDK's prepareBusyboxRootfs (the one builder in the repository, the one users get).
 */
import { prepareBusyboxRootfs } from "@sandboxd/client";

/** A busybox root filesystem in `dir`; returns `dir`. */
export async function busyboxRootfs(dir: string): Promise<string> {
  await prepareBusyboxRootfs(dir);
  return dir;
}
