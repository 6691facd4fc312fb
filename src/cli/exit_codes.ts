/**
 * Exit codes of the `rencfs` command. Scripts may rely on them: they are documented in
 * docs/cli.md and must not be renumbered.
 */
export const ExitCode = {
  /** Success (also: a mount that ended because it was unmounted from outside). */
  OK: 0,
  /** Any other error (I/O error, passwords that do not match, …). */
  ERROR: 1,
  /** Bad command line: unknown command or option, missing or invalid value. */
  USAGE: 2,
  /** Wrong password or recovery code. */
  WRONG_PASSWORD: 3,
  /** Data dir problem: not a rencfs data dir, damaged key file, newer format, already exists. */
  DATA_DIR: 4,
  /** Mount point problem: missing, not a directory, already mounted, cannot be mounted on. */
  MOUNT_POINT: 5,
  /** FUSE unavailable: libfuse3 or /dev/fuse missing. */
  FUSE_UNAVAILABLE: 6,
  /** fsck found problems and did not repair them all. */
  FSCK_PROBLEMS: 7,
  /** Interrupted (Ctrl-C) at a password prompt: 128 + SIGINT, as shells report it. */
  INTERRUPTED: 130,
} as const;

/** One of the values of {@link ExitCode}. */
export type ExitCodeValue = typeof ExitCode[keyof typeof ExitCode];
