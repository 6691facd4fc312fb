/** Logging setup: logtape, everything under the "rencfs" category, to stderr. */
import {
  configureSync,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogLevel,
  type Sink,
} from "@logtape/logtape";
import { writeStderr } from "./output.ts";

/** A logtape level, as `--log-level` selects it. */
export type LogLevelName = LogLevel;

const LEVELS: Readonly<Record<string, LogLevelName>> = {
  TRACE: "trace",
  DEBUG: "debug",
  INFO: "info",
  WARN: "warning",
  WARNING: "warning",
  ERROR: "error",
};

/** Reads a `--log-level` value (TRACE, DEBUG, INFO, WARN, ERROR; any case). */
export function parseLogLevel(value: string): LogLevelName | undefined {
  return LEVELS[value.trim().toUpperCase()];
}

/**
 * Writes synchronously so that nothing is lost when the process exits right after logging, and
 * swallows write errors: a daemon whose terminal went away must keep serving its mount.
 */
function stderrSink(): Sink {
  const format = getTextFormatter({
    timestamp: "date-time",
    category: ".",
    // Paths and messages read better bare; an error shows its message (stacks: DEBUG, in main).
    value: (v, inspect) => typeof v === "string" ? v : v instanceof Error ? v.message : inspect(v),
  });
  return (record) => writeStderr(format(record));
}

/** Configures logging for the process; call once, before the first log call. */
export function setupLogging(level: LogLevelName): void {
  configureSync({
    reset: true,
    sinks: { stderr: stderrSink() },
    loggers: [
      { category: ["rencfs"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** The logger of one part of rencfs, e.g. `log("mount")` → category rencfs.mount. */
export function log(part: string): Logger {
  return getLogger(["rencfs", part]);
}

/** The plain-string logger shape the FUSE adapter takes (`MountOptions.logger`). */
export interface SimpleLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/**
 * Adapts a logtape logger to {@link SimpleLogger}; messages are passed as data, not templates.
 * A leading "part: " in a message repeats the category and is dropped.
 */
export function simpleLogger(logger: Logger): SimpleLogger {
  const prefix = `${logger.category.at(-1)}: `;
  const strip = (msg: string) => msg.startsWith(prefix) ? msg.slice(prefix.length) : msg;
  return {
    debug: (msg) => logger.debug("{msg}", { msg: strip(msg) }),
    info: (msg) => logger.info("{msg}", { msg: strip(msg) }),
    warn: (msg) => logger.warn("{msg}", { msg: strip(msg) }),
    error: (msg) => logger.error("{msg}", { msg: strip(msg) }),
  };
}
