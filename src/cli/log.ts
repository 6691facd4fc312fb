/** Logging setup: logtape, everything under the "rencfs" category: stderr, a file or syslog. */
import {
  configureSync,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogLevel,
  type Sink,
} from "@logtape/logtape";
import { dirname } from "node:path";
import { CliError } from "./errors.ts";
import { ExitCode } from "./exit_codes.ts";
import { writeStderr } from "./output.ts";
import { Syslog, SYSLOG_PATH, SYSLOG_TAG } from "./syslog.ts";

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

function textFormatter(timestamp: boolean) {
  return getTextFormatter({
    timestamp: timestamp ? "date-time" : "none",
    category: ".",
    // Paths and messages read better bare; an error shows its message (stacks: DEBUG, in main).
    value: (v, inspect) => typeof v === "string" ? v : v instanceof Error ? v.message : inspect(v),
  });
}

/**
 * Writes synchronously so that nothing is lost when the process exits right after logging, and
 * swallows write errors: a daemon whose terminal went away must keep serving its mount.
 */
function stderrSink(): Sink {
  const format = textFormatter(true);
  return (record) => writeStderr(format(record));
}

/**
 * A daemon's stderr: a pipe its parent reads until the mount is ready and then closes. The first
 * failed write ends it, so that later lines (TRACE: one per request) cost nothing.
 */
function relaySink(): Sink {
  const format = textFormatter(true);
  const encoder = new TextEncoder();
  let open = true;
  return (record) => {
    if (!open) return;
    try {
      const bytes = encoder.encode(format(record));
      for (let off = 0; off < bytes.length;) off += Deno.stderr.writeSync(bytes.subarray(off));
    } catch {
      open = false;
    }
  };
}

/** Appends to `path` (created 0600: log lines name paths). Fails with a CliError (exit 1). */
function fileSink(path: string): Sink {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { append: true, create: true, mode: 0o600 });
  } catch (e) {
    throw new CliError(ExitCode.ERROR, `cannot open --log-file ${path}: ${(e as Error).message}`);
  }
  const format = textFormatter(true);
  const encoder = new TextEncoder();
  return (record) => {
    try {
      const bytes = encoder.encode(format(record));
      for (let off = 0; off < bytes.length;) off += file.writeSync(bytes.subarray(off));
    } catch {
      // a full disk must not stop the mount
    }
  };
}

function syslogSink(syslog: Syslog): Sink {
  const format = textFormatter(false);
  return (record) => {
    const severity = record.level === "fatal" || record.level === "error"
      ? "error"
      : record.level === "warning"
      ? "warning"
      : record.level === "info"
      ? "info"
      : "debug";
    syslog.send(severity, format(record));
  };
}

/**
 * Where a background mount logs when no --log-file is given and there is no /dev/log:
 * $XDG_STATE_HOME/rencfs/rencfs.log, else /var/log/rencfs.log for root, else
 * ~/.local/state/rencfs/rencfs.log.
 */
export function defaultLogFile(): string {
  const state = Deno.env.get("XDG_STATE_HOME");
  if (state) return `${state}/rencfs/rencfs.log`;
  if (Deno.uid() === 0) return "/var/log/rencfs.log";
  return `${Deno.env.get("HOME") ?? "/tmp"}/.local/state/rencfs/rencfs.log`;
}

/** Where logs go. */
export interface LogTarget {
  level: LogLevelName;
  /** Append to this file instead of stderr. */
  file?: string;
  /** A background daemon: to syslog (else {@link defaultLogFile}) unless `file` is given. */
  daemon?: boolean;
}

let configuredLevel: LogLevelName = "info";
let destination = "stderr";

/**
 * Configures logging for the process; call once, before the first log call. A daemon also keeps
 * stderr, which its parent relays until the mount is ready.
 */
export function setupLogging(target: LogTarget | LogLevelName): void {
  const t = typeof target === "string" ? { level: target } : target;
  configuredLevel = t.level;
  const sinks: Record<string, Sink> = {};
  let file = t.file;
  if (t.daemon && file === undefined) {
    const syslog = Syslog.open();
    if (syslog) {
      sinks.main = syslogSink(syslog);
      destination = `syslog (${SYSLOG_PATH}, tag ${SYSLOG_TAG}: journalctl -t ${SYSLOG_TAG})`;
    } else {
      file = defaultLogFile();
      Deno.mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    }
  }
  if (file !== undefined) {
    sinks.main = fileSink(file);
    destination = file;
  }
  if (!sinks.main) {
    sinks.main = stderrSink();
  } else if (t.daemon) {
    sinks.relay = relaySink();
  }
  configureSync({
    reset: true,
    sinks,
    loggers: [
      { category: ["rencfs"], lowestLevel: t.level, sinks: Object.keys(sinks) },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["main"] },
    ],
  });
}

/** Where log lines go: "stderr", a file's path, or syslog. */
export function logDestination(): string {
  return destination;
}

/** Whether TRACE lines are logged (per-operation tracing costs, so it is set up only then). */
export function isTraceEnabled(): boolean {
  return configuredLevel === "trace";
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
