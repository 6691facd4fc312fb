/**
 * Where passwords come from, in order: --password-file, --extpass, the environment, a prompt on
 * the terminal, a line of a non-terminal stdin.
 */
import type { PasswordOptions } from "./args.ts";
import { CliError } from "./errors.ts";
import { ExitCode } from "./exit_codes.ts";
import { firstLine, promptSecret, readStdinLine, stdinIsTerminal } from "./prompt.ts";
import { log } from "./log.ts";
import { zeroEnvValue } from "../../ffi/environ.ts";

/** Environment variable holding the (current) password, for scripts. */
export const PASSWORD_ENV = "RENCFS_PASSWORD";
/** Environment variable holding the new password for `rencfs passwd`. */
export const NEW_PASSWORD_ENV = "RENCFS_NEW_PASSWORD";
/** Environment variable holding the recovery code for `rencfs passwd --recovery-code`. */
export const RECOVERY_CODE_ENV = "RENCFS_RECOVERY_CODE";

const NO_SOURCE = "set RENCFS_PASSWORD, use --password-file or --extpass, or run on a terminal";

/**
 * The password of a data dir. `confirm`: it is a new password, so a terminal user types it
 * twice (the other sources are taken as they are).
 */
export async function getPassword(opts: PasswordOptions, confirm: boolean): Promise<string> {
  if (opts.passwordFile !== undefined) return await fromFile(opts.passwordFile);
  if (opts.extpass !== undefined) return await fromCommand(opts.extpass);
  const env = takeEnv(PASSWORD_ENV);
  if (env !== undefined) return nonEmpty(env, PASSWORD_ENV);
  return await interactive("Password: ", confirm ? "Repeat password: " : undefined, NO_SOURCE);
}

/** The new password for `rencfs passwd`: RENCFS_NEW_PASSWORD, else asked twice. */
export async function getNewPassword(): Promise<string> {
  const env = takeEnv(NEW_PASSWORD_ENV);
  if (env !== undefined) return nonEmpty(env, NEW_PASSWORD_ENV);
  return await interactive(
    "New password: ",
    "Repeat new password: ",
    "set RENCFS_NEW_PASSWORD or run on a terminal",
  );
}

/** The recovery code for `rencfs passwd --recovery-code`: RENCFS_RECOVERY_CODE, else asked. */
export async function getRecoveryCode(): Promise<string> {
  const env = takeEnv(RECOVERY_CODE_ENV);
  const code = env ?? await interactive(
    "Recovery code: ",
    undefined,
    "set RENCFS_RECOVERY_CODE or run on a terminal",
  );
  return nonEmpty(code.trim(), "the recovery code");
}

async function interactive(
  prompt: string,
  repeatPrompt: string | undefined,
  hint: string,
): Promise<string> {
  if (!stdinIsTerminal()) {
    const line = await readStdinLine();
    if (line === undefined) throw new CliError(ExitCode.ERROR, `no password given: ${hint}`);
    return nonEmpty(line, "the password read from stdin");
  }
  const first = nonEmpty(await promptSecret(prompt), "the password");
  if (repeatPrompt !== undefined && (await promptSecret(repeatPrompt)) !== first) {
    throw new CliError(ExitCode.ERROR, "the passwords do not match");
  }
  return first;
}

/**
 * Reads a secret from the environment and removes it: the value is zeroed where the process's
 * environment block holds it (which `/proc/PID/environ` shows and `unsetenv` alone leaves in
 * place), then unset, so a long-running mount keeps no copy there.
 */
function takeEnv(name: string): string | undefined {
  const value = Deno.env.get(name);
  if (value === undefined) return undefined;
  zeroEnvValue(name);
  Deno.env.delete(name);
  return value;
}

/** Warns when a password file can be read by other users (its group, or everyone). */
function warnIfShared(path: string): void {
  try {
    const mode = Deno.statSync(path).mode;
    if (mode !== null && (mode & 0o044) !== 0) {
      log("password").warn(
        "password file {path} is readable by {who} (mode {mode}): chmod 600 it",
        {
          path,
          who: (mode & 0o004) !== 0 ? "every user" : "its group",
          mode: (mode & 0o777).toString(8).padStart(3, "0"),
        },
      );
    }
  } catch {
    // reading it reports the problem
  }
}

async function fromFile(path: string): Promise<string> {
  let text: string;
  warnIfShared(path);
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new CliError(ExitCode.ERROR, `cannot read password file ${path}: ${message(e)}`);
  }
  return nonEmpty(firstLine(text), `password file ${path}`);
}

async function fromCommand(command: string): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    // stdin and stderr stay ours so that the command can prompt (pinentry, pass …).
    out = await new Deno.Command("sh", {
      args: ["-c", command],
      stdin: "inherit",
      stdout: "piped",
      stderr: "inherit",
    }).output();
  } catch (e) {
    throw new CliError(ExitCode.ERROR, `cannot run --extpass command: ${message(e)}`);
  }
  if (!out.success) {
    throw new CliError(ExitCode.ERROR, `--extpass command failed with exit code ${out.code}`);
  }
  return nonEmpty(firstLine(new TextDecoder().decode(out.stdout)), "--extpass output");
}

function nonEmpty(password: string, what: string): string {
  if (password === "") throw new CliError(ExitCode.ERROR, `${what} is empty`);
  return password;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
