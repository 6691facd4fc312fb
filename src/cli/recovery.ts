/** Showing the recovery code of a new data dir, once. */
import { writeStderr, writeStdout } from "./output.ts";

const WARNING = "Store the recovery code somewhere safe, away from the data dir. It is " +
  "shown only this once and is the only way to regain access when the password is lost " +
  "(rencfs passwd --recovery-code).";

/**
 * Prints the recovery code. `codeToStdout`: the code alone goes to stdout, so that scripts can
 * capture it (init); else everything goes to stderr (mount, whose stdout is not for data).
 */
export function printRecoveryCode(code: string, codeToStdout: boolean): void {
  writeStderr("rencfs: new data dir created. Recovery code:\n");
  if (codeToStdout) writeStdout(`${code}\n`);
  else writeStderr(`\n    ${code}\n\n`);
  writeStderr(`rencfs: warning: ${WARNING}\n`);
}
