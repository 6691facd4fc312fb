import { ExitCode, type ExitCodeValue } from "./exit_codes.ts";

/**
 * An error meant for the user: its message is printed as one line (`rencfs: error: …`) and the
 * process exits with `exitCode`.
 */
export class CliError extends Error {
  readonly exitCode: ExitCodeValue;
  constructor(exitCode: ExitCodeValue, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** A bad command line; `command` names the command whose `--help` the user should read. */
export class UsageError extends CliError {
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(ExitCode.USAGE, message);
    this.name = "UsageError";
    this.command = command;
  }
}
