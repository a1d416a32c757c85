/**
 * Structured logging for the daemons (pino, JSON lines). containerd's level
 * names and field names (namespace, sandbox_id, id, runtime, error) are kept so
 * operators can grep both daemons alike. Libraries do not log.
 */
import { pino } from "pino";

export type Logger = pino.Logger;
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

export function createLogger(
  options: { level?: LogLevel; name?: string; destination?: number } = {},
): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: options.name ? { component: options.name, pid: process.pid } : { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: "msg",
      errorKey: "error",
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: options.destination ?? 2, sync: true }),
  );
}

export const silentLogger: Logger = pino({ level: "silent" });
