/** The rencfs command line: parse, dispatch to a command, turn errors into exit codes. */
import { parseCommandLine } from "./args.ts";
import { CliError, UsageError } from "./errors.ts";
import { ExitCode } from "./exit_codes.ts";
import { helpText, VERSION } from "./help.ts";
import { isDaemonChild } from "./daemon.ts";
import { log, setupLogging } from "./log.ts";
import { writeStderr, writeStdout } from "./output.ts";

/** Runs rencfs with `argv` (without the program name); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let invocation;
  try {
    invocation = parseCommandLine(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (argv.length === 0) {
      writeStderr(helpText()); // bare `rencfs`: show what there is, as clap does
      return e.exitCode;
    }
    const help = e.command ? `rencfs ${e.command} --help` : "rencfs --help";
    writeStderr(`rencfs: error: ${e.message}\nFor more information, try '${help}'.\n`);
    return e.exitCode;
  }
  switch (invocation.kind) {
    case "help":
      writeStdout(helpText(invocation.command));
      return ExitCode.OK;
    case "version":
      writeStdout(`rencfs ${VERSION}\n`);
      return ExitCode.OK;
  }
  const args = invocation.args;
  try {
    setupLogging({
      level: invocation.logLevel,
      file: invocation.logFile,
      daemon: args.command === "mount" && isDaemonChild(),
    });
    // Loaded on demand: --help and --version must work without the crypto and FUSE modules.
    switch (args.command) {
      case "mount":
        return await (await import("./commands/mount.ts")).runMount(
          args,
          invocation.logLevel,
          invocation.logFile,
        );
      case "init":
        return await (await import("./commands/init.ts")).runInit(args);
      case "passwd":
        return await (await import("./commands/passwd.ts")).runPasswd(args);
      case "fsck":
        return await (await import("./commands/fsck.ts")).runFsck(args);
      case "info":
        return await (await import("./commands/info.ts")).runInfo(args);
    }
  } catch (e) {
    const error = e instanceof CliError ? e : await classify(e, args.dataDir);
    log("cli").debug("{command} failed: {stack}", {
      command: args.command,
      stack: e instanceof Error ? e.stack ?? e.message : String(e),
    });
    writeStderr(`rencfs: error: ${error.message}\n`);
    return error.exitCode;
  }
}

async function classify(e: unknown, dataDir: string): Promise<CliError> {
  try {
    return (await import("./classify.ts")).toCliError(e, dataDir);
  } catch {
    return new CliError(ExitCode.ERROR, e instanceof Error ? e.message : String(e));
  }
}
