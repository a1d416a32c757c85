// Errors for people: what went wrong and what to do, no stack trace unless --debug.
import {
  isAlreadyExists,
  isErrdefsError,
  isFailedPrecondition,
  isNotFound,
  isNotImplemented,
  isPermissionDenied,
  isUnavailable,
} from "@sandboxd/errdefs";
import {
  cannotDeleteContainerText,
  cannotReachText,
  missingApiOf,
  namespaceRequiredText,
  notFoundKindOf,
  sandboxApi,
  stillHasContainersText,
} from "@sandboxd/core/messages";
import { UsageError } from "@sandboxd/core/args";

/** The quoted id after `sandbox ` / `container ` at `prefix`, or "ID". */
function quotedId(message: string, prefix: string): string {
  const at = message.indexOf(prefix);
  if (at < 0) return "ID";
  const rest = message.slice(at + prefix.length);
  const m = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
  return m?.[1] ?? "ID";
}

/** Exit status for a usage mistake (like most CLIs); every other failure is 1. */
export const USAGE_EXIT = 2;

/** The message (and hints) for `err`, and the exit status. */
export function describeError(
  err: unknown,
  options: { address: string; debug: boolean; command?: string },
): { text: string; status: number } {
  if (err instanceof UsageError) {
    const help = err.command ? `sbx ${err.command} --help` : "sbx --help";
    return { text: `sbx: ${err.message}\nSee "${help}".\n`, status: USAGE_EXIT };
  }
  const message = err instanceof Error ? err.message : String(err);
  const lines = [`sbx: ${message}`];
  const listed = isNotFound(err) ? notFoundKindOf(message) : undefined;
  if (isDaemonDown(err)) {
    lines.splice(0, 1, ...daemonDown(options.address, message));
  } else if (isUnavailable(err) && /EACCES|permission denied/i.test(message)) {
    lines.push(
      `  sandboxd's socket ${options.address} is not open to you: run sbx as root (or with sudo).`,
    );
  } else if (isAlreadyExists(err) && options.command === "run") {
    const id = quotedId(message, message.startsWith("sandbox ") ? "sandbox " : "container ");
    lines.push(`  Remove the old one with "sbx sandbox rm -f ${id}", or pick another ID.`);
  } else if (isFailedPrecondition(err) && message.includes(stillHasContainersText)) {
    const id = quotedId(message, "sandbox ");
    lines.push(`  Remove it with its containers: "sbx sandbox rm -f ${id}".`);
  } else if (isFailedPrecondition(err) && message.startsWith(cannotDeleteContainerText)) {
    const id = quotedId(message, `${cannotDeleteContainerText} `);
    lines.push(`  Stop it first ("sbx task kill ${id}"), or use "sbx container rm -f ${id}".`);
  } else if (listed) {
    lines.push(
      `  See what exists with "sbx ${listed} ls"${listed === "task" ? "" : " (in this namespace; -n picks another)"}.`,
    );
  } else if (isFailedPrecondition(err) && message.includes(namespaceRequiredText)) {
    lines.push("  Give one with -n NAME.");
  } else if (isNotImplemented(err) && missingApiOf(err) === sandboxApi) {
    lines.push(
      `  The daemon at ${options.address} has no Sandbox API (containerd 1.6?): sbx needs sandboxd, or containerd 2.x.`,
    );
  } else if (isPermissionDenied(err)) {
    lines.push("  Run sbx as root (or with sudo).");
  }
  if (options.debug) lines.push("", ...debugLines(err));
  return { text: `${lines.join("\n")}\n`, status: 1 };
}

function isDaemonDown(err: unknown): boolean {
  if (!isUnavailable(err)) return false;
  const message = err instanceof Error ? err.message : "";
  return (
    (message.startsWith(cannotReachText) ||
      /ENOENT|ECONNREFUSED|No connection established/.test(message)) &&
    !/EACCES/.test(message)
  );
}

function daemonDown(address: string, message: string): string[] {
  const why = /ENOENT/.test(message)
    ? "the socket does not exist"
    : /ECONNREFUSED/.test(message)
      ? "nothing is listening on the socket"
      : "the daemon does not answer";
  return [
    `sbx: cannot connect to sandboxd at ${address}: ${why}. Is sandboxd running?`,
    "  Start it:             sandboxd --config /etc/sandboxd/config.toml",
    "  Or try it out:        npm run demo    (in a sandboxd checkout)",
    "  Use another socket:   sbx --address PATH ...   (or SANDBOXD_ADDRESS=PATH)",
  ];
}

function debugLines(err: unknown): string[] {
  const out: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 8; depth++) {
    if (e instanceof Error) {
      const kind = isErrdefsError(e) ? ` [${e.kind}]` : "";
      out.push(`${depth === 0 ? "error" : "caused by"}${kind}: ${e.stack ?? e.message}`);
      e = (e as { cause?: unknown }).cause;
    } else {
      out.push(`caused by: ${JSON.stringify(e)}`);
      break;
    }
  }
  return out;
}
