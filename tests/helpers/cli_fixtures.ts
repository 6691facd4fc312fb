/**
 * What the CLI tests (cli_test.ts, cli_mount_refusals_test.ts) share: the password of their
 * data dirs, a data dir made with `rencfs init`, and small checks.
 */
import { assertEquals, rencfs } from "../cli_helpers.ts";

/** Password of the data dirs these tests create. */
export const PW = "correct horse";
/** {@link PW} as the environment passes it. */
export const PW_ENV = { RENCFS_PASSWORD: PW };

/** A fresh data dir created with `rencfs init` (password {@link PW}); returns its recovery code. */
export async function initDataDir(dir: string): Promise<string> {
  const r = await rencfs(["init", "--recovery-code-file", "-", "-d", dir], { env: PW_ENV });
  assertEquals(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/** Throws unless `path` does not exist. */
export async function assertMissing(path: string): Promise<void> {
  try {
    await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  throw new Error(`${path} exists but should not`);
}

/** Whether `cmd args` runs and exits 0. */
export async function succeeds(cmd: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}
