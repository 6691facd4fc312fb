/** Turns errors of the store, the filesystem and the FUSE adapter into CliErrors (exit codes). */
import { FsError } from "../fs/errors.ts";
import { MountError } from "../fuse/mount.ts";
import {
  DamagedKeyFileError,
  InvalidRecoveryCodeError,
  NotADataDirError,
  UnsupportedFormatError,
  WrongPasswordError,
} from "../store/keyfile.ts";
import { CliError } from "./errors.ts";
import { ExitCode } from "./exit_codes.ts";

/** Messages of MountError that mean FUSE itself is missing rather than the mount point. */
const FUSE_MISSING =
  /\/dev\/fuse is missing|libfuse3 is not installed|fusermount3 is not installed/;

/** The exit code and one-line message for `e`; `dataDir` names the data dir in messages. */
export function toCliError(e: unknown, dataDir?: string): CliError {
  if (e instanceof CliError) return e;
  const message = oneLine(e);
  const where = dataDir ? `data dir ${dataDir}: ` : "";
  if (e instanceof WrongPasswordError) {
    return new CliError(ExitCode.WRONG_PASSWORD, message, { cause: e });
  }
  if (e instanceof InvalidRecoveryCodeError) {
    return new CliError(ExitCode.WRONG_PASSWORD, `invalid recovery code: ${message}`, {
      cause: e,
    });
  }
  if (e instanceof DamagedKeyFileError) {
    const text = /damaged/i.test(message) ? message : `damaged key file: ${message}`;
    return new CliError(ExitCode.DATA_DIR, where + text, { cause: e });
  }
  if (e instanceof UnsupportedFormatError) {
    return new CliError(
      ExitCode.DATA_DIR,
      `${where}${message} (written by a newer rencfs; upgrade rencfs)`,
      { cause: e },
    );
  }
  if (e instanceof NotADataDirError) return new CliError(ExitCode.DATA_DIR, message, { cause: e });
  if (e instanceof MountError) {
    const code = FUSE_MISSING.test(message) ? ExitCode.FUSE_UNAVAILABLE : ExitCode.MOUNT_POINT;
    return new CliError(code, message, { cause: e });
  }
  if (e instanceof FsError && e.code === "EIO") {
    // Opening the store failed on its content, e.g. a missing or altered root record.
    return new CliError(ExitCode.DATA_DIR, `${where || "data dir: "}${message}`, { cause: e });
  }
  return new CliError(ExitCode.ERROR, message, { cause: e });
}

function oneLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.replace(/\s*\n\s*/g, " ").trim() || (e as Error)?.name || "unknown error";
}
