/** Command-line parsing: turns argv into a typed {@link Invocation} or throws a UsageError. */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import type { CipherName } from "../crypto/aead.ts";
import { cipherNamesText, parseCipherName } from "./cipher.ts";
import { DEFAULT_KEY_IDLE_MS, parseDuration } from "./duration.ts";
import { UsageError } from "./errors.ts";
import { type CommandName, isCommandName } from "./help.ts";
import { type LogLevelName, parseLogLevel } from "./log.ts";
import { DEFAULT_MEMORY_LIMIT, MIN_MEMORY_LIMIT, parseSize } from "../util/memory_budget.ts";

/** Where the password comes from when given on the command line (else env or prompt). */
export interface PasswordOptions {
  passwordFile?: string;
  extpass?: string;
}

/** `rencfs mount …` */
export interface MountArgs {
  command: "mount";
  /** Absolute path. */
  mountPoint: string;
  /** Absolute path. */
  dataDir: string;
  cipher?: CipherName;
  readOnly: boolean;
  allowOther: boolean;
  allowRoot: boolean;
  umountOnStart: boolean;
  /** Mount over a mount point that is not empty (its contents are hidden while mounted). */
  nonempty: boolean;
  background: boolean;
  /** Milliseconds without key use after which key material leaves the process (0: never). */
  keyIdleMs: number;
  password: PasswordOptions;
  /** Create a missing or empty data dir without asking (else: ask on a terminal, or refuse). */
  init: boolean;
  /** Where the recovery code of a data dir created by this mount goes (absolute path). */
  recoveryCodeFile?: string;
  /** Log plaintext names at TRACE (they are left out by default). */
  logNames: boolean;
  /** Unmount after this many milliseconds without FUSE activity and open files. */
  idleMs?: number;
  /** Ceiling of the daemon's resident memory, in bytes (src/util/memory_budget.ts). */
  memoryLimit: number;
}

/** `rencfs init …` */
export interface InitArgs {
  command: "init";
  /** Absolute path. */
  dataDir: string;
  cipher?: CipherName;
  password: PasswordOptions;
  /** Where the recovery code goes: an absolute path, or "-" for stdout. */
  recoveryCodeFile?: string;
}

/** `rencfs info …` */
export interface InfoArgs {
  command: "info";
  /** Absolute path. */
  dataDir: string;
  /** Print JSON instead of text. */
  json: boolean;
}

/** `rencfs passwd …` */
export interface PasswdArgs {
  command: "passwd";
  /** Absolute path. */
  dataDir: string;
  recoveryCode: boolean;
  password: PasswordOptions;
}

/** `rencfs fsck …` */
export interface FsckArgs {
  command: "fsck";
  /** Absolute path. */
  dataDir: string;
  repair: boolean;
  recoveryCode: boolean;
  password: PasswordOptions;
}

/** The arguments of any command. */
export type CommandArgs = MountArgs | InitArgs | PasswdArgs | FsckArgs | InfoArgs;

/** What the command line asks for. */
export type Invocation =
  | { kind: "help"; command?: CommandName }
  | { kind: "version" }
  | { kind: "run"; logLevel: LogLevelName; logFile?: string; args: CommandArgs };

type OptionSpec = Record<string, { type: "string" | "boolean"; short?: string }>;

const GLOBAL_SPEC = {
  "log-level": { type: "string", short: "l" },
  "log-file": { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} satisfies OptionSpec;

const PASSWORD_SPEC = {
  "password-file": { type: "string" },
  extpass: { type: "string" },
} satisfies OptionSpec;

const COMMON_SPEC = {
  "log-level": { type: "string", short: "l" },
  "log-file": { type: "string" },
  help: { type: "boolean", short: "h" },
} satisfies OptionSpec;

const MOUNT_SPEC = {
  "mount-point": { type: "string", short: "m" },
  "data-dir": { type: "string", short: "d" },
  cipher: { type: "string", short: "c" },
  "read-only": { type: "boolean", short: "r" },
  "allow-other": { type: "boolean", short: "o" },
  "allow-root": { type: "boolean", short: "s" },
  "umount-on-start": { type: "boolean", short: "u" },
  nonempty: { type: "boolean" },
  background: { type: "boolean" },
  init: { type: "boolean" },
  "recovery-code-file": { type: "string" },
  "log-names": { type: "boolean" },
  idle: { type: "string" },
  "key-idle": { type: "string" },
  "memory-limit": { type: "string" },
  ...PASSWORD_SPEC,
  ...COMMON_SPEC,
} satisfies OptionSpec;

const INIT_SPEC = {
  "data-dir": { type: "string", short: "d" },
  cipher: { type: "string", short: "c" },
  "recovery-code-file": { type: "string" },
  ...PASSWORD_SPEC,
  ...COMMON_SPEC,
} satisfies OptionSpec;

const PASSWD_SPEC = {
  "data-dir": { type: "string", short: "d" },
  "recovery-code": { type: "boolean" },
  ...PASSWORD_SPEC,
  ...COMMON_SPEC,
} satisfies OptionSpec;

const FSCK_SPEC = {
  "data-dir": { type: "string", short: "d" },
  repair: { type: "boolean" },
  "recovery-code": { type: "boolean" },
  ...PASSWORD_SPEC,
  ...COMMON_SPEC,
} satisfies OptionSpec;

const INFO_SPEC = {
  "data-dir": { type: "string", short: "d" },
  json: { type: "boolean" },
  ...COMMON_SPEC,
} satisfies OptionSpec;

/** Options that take a value, so that their value is not mistaken for the command name. */
const GLOBAL_VALUE_OPTIONS = new Set(["--log-level", "-l", "--log-file"]);

/** Parses the whole command line (without the program name). */
export function parseCommandLine(argv: readonly string[]): Invocation {
  // Global options may precede the command (Rust rencfs: `rencfs --log-level DEBUG mount …`).
  let i = 0;
  while (i < argv.length && argv[i].startsWith("-") && argv[i] !== "--") {
    i += GLOBAL_VALUE_OPTIONS.has(argv[i]) ? 2 : 1;
  }
  const global = parseOptions(GLOBAL_SPEC, argv.slice(0, Math.min(i, argv.length)), undefined);
  if (global.help) return { kind: "help" };
  if (global.version) return { kind: "version" };
  const name = argv[i];
  if (name === undefined || name === "--") throw new UsageError("no command given");
  if (name === "help") return helpFor(argv.slice(i + 1));
  if (!isCommandName(name)) throw new UsageError(`unknown command '${name}'`);
  const rest = argv.slice(i + 1);
  if (wantsHelp(rest)) return { kind: "help", command: name };
  const globalLevel = global["log-level"];
  const globalLogFile = global["log-file"];
  switch (name) {
    case "mount": {
      const o = parseOptions(MOUNT_SPEC, rest, name);
      if (o["allow-other"] && o["allow-root"]) {
        // FUSE's allow_root is a restricted allow_other: one or the other.
        throw new UsageError("--allow-other and --allow-root exclude each other", name);
      }
      return run(o["log-level"] ?? globalLevel, o["log-file"] ?? globalLogFile, name, {
        command: name,
        mountPoint: requiredPath(o["mount-point"], "--mount-point", name),
        dataDir: requiredPath(o["data-dir"], "--data-dir", name),
        cipher: cipherOption(o.cipher, name),
        readOnly: o["read-only"] ?? false,
        allowOther: o["allow-other"] ?? false,
        allowRoot: o["allow-root"] ?? false,
        umountOnStart: o["umount-on-start"] ?? false,
        nonempty: o.nonempty ?? false,
        background: o.background ?? false,
        keyIdleMs: keyIdleOption(o["key-idle"], name),
        password: passwordOptions(o, name),
        init: o.init ?? false,
        recoveryCodeFile: recoveryCodeFile(o["recovery-code-file"], false, name),
        logNames: o["log-names"] ?? false,
        idleMs: o.idle === undefined ? undefined : idleOption(o.idle, name),
        memoryLimit: memoryLimitOption(o["memory-limit"], name),
      });
    }
    case "init": {
      const o = parseOptions(INIT_SPEC, rest, name);
      return run(o["log-level"] ?? globalLevel, o["log-file"] ?? globalLogFile, name, {
        command: name,
        dataDir: requiredPath(o["data-dir"], "--data-dir", name),
        cipher: cipherOption(o.cipher, name),
        password: passwordOptions(o, name),
        recoveryCodeFile: recoveryCodeFile(o["recovery-code-file"], true, name),
      });
    }
    case "passwd": {
      const o = parseOptions(PASSWD_SPEC, rest, name);
      return run(o["log-level"] ?? globalLevel, o["log-file"] ?? globalLogFile, name, {
        command: name,
        dataDir: requiredPath(o["data-dir"], "--data-dir", name),
        recoveryCode: o["recovery-code"] ?? false,
        password: passwordOptions(o, name),
      });
    }
    case "fsck": {
      const o = parseOptions(FSCK_SPEC, rest, name);
      return run(o["log-level"] ?? globalLevel, o["log-file"] ?? globalLogFile, name, {
        command: name,
        dataDir: requiredPath(o["data-dir"], "--data-dir", name),
        repair: o.repair ?? false,
        recoveryCode: o["recovery-code"] ?? false,
        password: passwordOptions(o, name),
      });
    }
    case "info": {
      const o = parseOptions(INFO_SPEC, rest, name);
      return run(o["log-level"] ?? globalLevel, o["log-file"] ?? globalLogFile, name, {
        command: name,
        dataDir: requiredPath(o["data-dir"], "--data-dir", name),
        json: o.json ?? false,
      });
    }
  }
}

function keyIdleOption(value: string | undefined, command: CommandName): number {
  if (value === undefined) return DEFAULT_KEY_IDLE_MS;
  if (/^(off|never)$/i.test(value.trim())) return 0;
  const ms = parseDuration(value);
  if (ms === undefined) {
    throw new UsageError(`--key-idle: '${value}' is not a duration (10m, 90s, 1h, off)`, command);
  }
  return ms;
}

function memoryLimitOption(value: string | undefined, command: CommandName): number {
  if (value === undefined) return DEFAULT_MEMORY_LIMIT;
  const bytes = parseSize(value);
  if (bytes === null) {
    throw new UsageError(`--memory-limit: '${value}' is not a size (256M, 1G)`, command);
  }
  if (bytes < MIN_MEMORY_LIMIT) {
    throw new UsageError(`--memory-limit: at least ${MIN_MEMORY_LIMIT >> 20}M`, command);
  }
  return bytes;
}

function run(
  level: string | undefined,
  logFile: string | undefined,
  command: CommandName,
  args: CommandArgs,
): Invocation {
  if (logFile === "") throw new UsageError("--log-file must not be empty", command);
  const logLevel = parseLogLevel(level ?? "INFO");
  if (!logLevel) {
    throw new UsageError(
      `invalid --log-level '${level}' (use TRACE, DEBUG, INFO, WARN or ERROR)`,
      command,
    );
  }
  return { kind: "run", logLevel, logFile: logFile && resolve(logFile), args };
}

function helpFor(rest: readonly string[]): Invocation {
  const [name, ...extra] = rest;
  if (name === undefined) return { kind: "help" };
  if (!isCommandName(name)) throw new UsageError(`unknown command '${name}'`);
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  return { kind: "help", command: name };
}

/** `--help` anywhere before `--` wins over every other problem, as with clap. */
function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === "--") return false;
    if (a === "--help" || a === "-h") return true;
  }
  return false;
}

type Values<S extends OptionSpec> = {
  [K in keyof S]?: S[K]["type"] extends "string" ? string : boolean;
};

function parseOptions<S extends OptionSpec>(
  spec: S,
  args: readonly string[],
  command: CommandName | undefined,
): Values<S> {
  try {
    const { values } = parseArgs({
      args: [...args],
      options: spec,
      strict: true,
      allowPositionals: false,
    });
    return values as Values<S>;
  } catch (e) {
    throw new UsageError(parseErrorMessage(e), command);
  }
}

/** node:util's messages are long and explain JS quoting; keep the gist. */
function parseErrorMessage(e: unknown): string {
  const code = (e as { code?: string }).code;
  const message = e instanceof Error ? e.message : String(e);
  const quoted = /'([^']+)'/.exec(message)?.[1];
  // "-d, --data-dir <value>" → "--data-dir"
  const option = /--[\w-]+/.exec(quoted ?? "")?.[0] ?? quoted;
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option '${quoted}'`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument '${quoted}'`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/argument missing|ambiguous/.test(message)) return `option ${option} needs a value`;
      return `option ${option} takes no value`;
    default:
      return message.split(". ")[0];
  }
}

function requiredPath(value: string | undefined, option: string, command: CommandName): string {
  if (value === undefined) throw new UsageError(`missing required option ${option}`, command);
  if (value === "") throw new UsageError(`${option} must not be empty`, command);
  // Absolute, so that a daemonized child (started in /) sees the same paths.
  return resolve(value);
}

function cipherOption(value: string | undefined, command: CommandName): CipherName | undefined {
  if (value === undefined) return undefined;
  const cipher = parseCipherName(value);
  if (!cipher) {
    throw new UsageError(`unknown cipher '${value}' (use ${cipherNamesText()})`, command);
  }
  return cipher;
}

function passwordOptions(
  o: { "password-file"?: string; extpass?: string },
  command: CommandName,
): PasswordOptions {
  const passwordFile = o["password-file"];
  const extpass = o.extpass;
  if (passwordFile !== undefined && extpass !== undefined) {
    throw new UsageError("--password-file and --extpass exclude each other", command);
  }
  if (passwordFile === "") throw new UsageError("--password-file must not be empty", command);
  if (extpass === "") throw new UsageError("--extpass must not be empty", command);
  return {
    passwordFile: passwordFile === undefined ? undefined : resolve(passwordFile),
    extpass,
  };
}

/** `-` (stdout) only for `init`; a path is made absolute. */
function recoveryCodeFile(
  value: string | undefined,
  stdoutAllowed: boolean,
  command: CommandName,
): string | undefined {
  if (value === undefined) return undefined;
  if (value === "") throw new UsageError("--recovery-code-file must not be empty", command);
  if (value === "-") {
    if (stdoutAllowed) return value;
    throw new UsageError("--recovery-code-file - (stdout) is for init only", command);
  }
  return resolve(value);
}

function idleOption(value: string, command: CommandName): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms < 1000) {
    throw new UsageError(
      `invalid --idle '${value}' (a duration of at least 1s, e.g. 90s, 30m, 2h, 1h30m)`,
      command,
    );
  }
  return ms;
}
