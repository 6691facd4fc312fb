/** `rencfs fsck`: check a data dir object by object; with --repair, fix what can be fixed. */
import { formatProblem, formatSummary, fsck, FsckBusyError, newProblems } from "../../fsck/fsck.ts";
import { ProgressBar } from "../../fsck/progress.ts";
import type { FsckArgs } from "../args.ts";
import { CliError } from "../errors.ts";
import { ExitCode } from "../exit_codes.ts";
import { writeStdout } from "../output.ts";
import { getPassword, getRecoveryCode } from "../password.ts";
import { checkDataDir } from "../preflight.ts";

/** Runs `rencfs fsck`; resolves to 0 when clean (or all repaired), else FSCK_PROBLEMS. */
export async function runFsck(args: FsckArgs): Promise<number> {
  const state = await checkDataDir(args.dataDir);
  if (state !== "rencfs") {
    const why = state === "missing" ? "does not exist" : "is empty";
    throw new CliError(ExitCode.DATA_DIR, `data dir ${args.dataDir} ${why}`);
  }
  const secret = args.recoveryCode
    ? { recoveryCode: await getRecoveryCode() }
    : { password: await getPassword(args.password, false) };
  const bar = Deno.stderr.isTerminal() ? new ProgressBar() : undefined;
  let report;
  try {
    report = await fsck(args.dataDir, secret, { repair: args.repair, onProgress: bar?.update });
  } catch (e) {
    if (e instanceof FsckBusyError) throw new CliError(ExitCode.DATA_DIR, e.message);
    throw e;
  } finally {
    bar?.clear();
  }
  const out: string[] = report.problems.map((p) => formatProblem(p, args.repair));
  for (const p of newProblems(report.problems, report.remaining)) {
    out.push(`after repair: ${formatProblem(p, false)}`);
  }
  for (const line of formatSummary(report)) out.push(`rencfs fsck: ${line}`);
  writeStdout(out.map((l) => `${l}\n`).join(""));
  return report.clean ? ExitCode.OK : ExitCode.FSCK_PROBLEMS;
}
