/** `rencfs init`: create a data dir explicitly and hand out its recovery code. */
import type { InitArgs } from "../args.ts";
import { createOnly } from "../datadir.ts";
import { CliError } from "../errors.ts";
import { ExitCode } from "../exit_codes.ts";
import { log } from "../log.ts";
import { getPassword } from "../password.ts";
import { checkDataDir } from "../preflight.ts";
import { checkRecoveryTarget, initRecoveryTarget, RecoveryCodeSink } from "../recovery.ts";

/** Runs `rencfs init`; resolves to the exit code. */
export async function runInit(args: InitArgs): Promise<number> {
  // Where the code goes is settled first: without a place for it nothing is created.
  const target = initRecoveryTarget(args.recoveryCodeFile);
  const state = await checkDataDir(args.dataDir);
  if (state === "rencfs") {
    throw new CliError(ExitCode.DATA_DIR, `${args.dataDir} is already a rencfs data dir`);
  }
  await checkRecoveryTarget(target);
  const password = await getPassword(args.password, true);
  const sink = await RecoveryCodeSink.open(target);
  let recoveryCode: string;
  try {
    recoveryCode = await createOnly(args.dataDir, password, args.cipher);
  } catch (e) {
    await sink.abort();
    throw e;
  }
  log("init").debug("created data dir {dataDir}", { dataDir: args.dataDir });
  await sink.deliver(recoveryCode, args.dataDir);
  return ExitCode.OK;
}
