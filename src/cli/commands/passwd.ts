/** `rencfs passwd`: change the password, proving access with the old one or the recovery code. */
import { changePassword } from "../../store/datadir.ts";
import type { PasswdArgs } from "../args.ts";
import { CliError } from "../errors.ts";
import { ExitCode } from "../exit_codes.ts";
import { writeStderr } from "../output.ts";
import { getNewPassword, getPassword, getRecoveryCode } from "../password.ts";
import { checkDataDir } from "../preflight.ts";

/** Runs `rencfs passwd`; resolves to the exit code. */
export async function runPasswd(args: PasswdArgs): Promise<number> {
  const state = await checkDataDir(args.dataDir);
  if (state !== "rencfs") {
    const why = state === "missing" ? "does not exist" : "is empty";
    throw new CliError(ExitCode.DATA_DIR, `data dir ${args.dataDir} ${why}`);
  }
  const old = args.recoveryCode
    ? { recoveryCode: await getRecoveryCode() }
    : { password: await getPassword(args.password, false) };
  const newPassword = await getNewPassword();
  await changePassword(args.dataDir, old, newPassword);
  writeStderr(`rencfs: password changed for ${args.dataDir}\n`);
  return ExitCode.OK;
}
