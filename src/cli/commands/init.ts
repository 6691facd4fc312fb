/** `rencfs init`: create a data dir explicitly and print its recovery code. */
import type { InitArgs } from "../args.ts";
import { createOnly } from "../datadir.ts";
import { CliError } from "../errors.ts";
import { ExitCode } from "../exit_codes.ts";
import { log } from "../log.ts";
import { getPassword } from "../password.ts";
import { checkDataDir } from "../preflight.ts";
import { printRecoveryCode } from "../recovery.ts";

/** Runs `rencfs init`; resolves to the exit code. */
export async function runInit(args: InitArgs): Promise<number> {
  const state = await checkDataDir(args.dataDir);
  if (state === "rencfs") {
    throw new CliError(ExitCode.DATA_DIR, `${args.dataDir} is already a rencfs data dir`);
  }
  const password = await getPassword(args.password, true);
  const recoveryCode = await createOnly(args.dataDir, password, args.cipher);
  log("init").debug("created data dir {dataDir}", { dataDir: args.dataDir });
  printRecoveryCode(recoveryCode, true);
  return ExitCode.OK;
}
