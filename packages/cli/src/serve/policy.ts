// Which calls sandboxd's CLI server runs itself, and which it sends back to the
// Node CLI: those that need the caller's terminal (raw mode, a tty in the
// container), those that move image archives, and those aimed at another daemon.
import { resolve as resolvePath } from "node:path";
import { parseArgs } from "@sandboxd/core/args";
import { globalFlags } from "../commands.js";
import { resolve } from "../main.js";
import type { Hello } from "./frames.js";

/** Commands always left to the Node CLI. */
const localCommands: ReadonlySet<string> = new Set([
  // The task's terminal is known only once attached.
  "task attach",
  // Archives of hundreds of MB: no reason to copy them through one more socket.
  "image import",
  "image export",
]);

/** Whether the server runs this call (else the client starts the Node CLI). */
export function servedHere(hello: Hello, ownAddress: string): boolean {
  let resolved;
  try {
    resolved = resolve(hello.argv);
  } catch {
    // A usage error reads the same from either side.
    return true;
  }
  if (resolved.kind !== "command") return true;
  const { spec, rest } = resolved;
  if (localCommands.has(spec.name)) return false;
  let flags: Record<string, unknown>;
  try {
    flags = parseArgs(rest, [...globalFlags, ...spec.flags], {
      command: spec.name,
      passthroughAfter: spec.passthroughAfter,
      env: hello.env,
    }).flags;
  } catch {
    return true;
  }
  if (flags.tty === true) return false;
  return resolvePath(hello.cwd, String(flags.address)) === ownAddress;
}
