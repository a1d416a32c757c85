// Shared by the run-from-image tests: an image whose config says what the process is
// (Cmd, Env, WorkingDir, User), and a deadline that names what a test was waiting for.
import type { ImageSpec } from "@sandboxd/testing";
import { busyboxEntries } from "@sandboxd/testing";

/** busybox; its Cmd prints the config it ran with and exits 7. */
export function configuredImageSpec(): ImageSpec {
  return {
    config: {
      Cmd: ["sh", "-c", 'echo "$GREETING from $(pwd) as $(id -u):$(id -g)"; exit 7'],
      Env: ["PATH=/bin", "GREETING=hello"],
      WorkingDir: "/srv",
      User: "1000:1000",
    },
    layers: [
      { compression: "gzip", entries: busyboxEntries() },
      { compression: "zstd", entries: [{ name: "srv/", type: "dir", mode: 0o777 }] },
    ],
  };
}

/** `p`, or a failure naming `what` after `ms` (a generous bound, never a speed check). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
