/** Help texts of every command (printed by `--help`), and the version line. */
import denoJson from "../../deno.json" with { type: "json" };

/** The version from deno.json. */
export const VERSION: string = denoJson.version;

/** Names of the commands, in the order help lists them. */
export const COMMANDS = ["mount", "init", "passwd", "fsck", "info"] as const;

/** One of {@link COMMANDS}. */
export type CommandName = typeof COMMANDS[number];

/** Whether `s` names a command. */
export function isCommandName(s: string): s is CommandName {
  return (COMMANDS as readonly string[]).includes(s);
}

const PASSWORD_OPTIONS = [
  "      --password-file FILE   Read the password from the first line of FILE",
  "      --extpass CMD          Run CMD with 'sh -c'; the first line of its output is the password",
].join("\n");

const PASSWORD_SOURCES = [
  "The password comes from --password-file or --extpass, else RENCFS_PASSWORD, else a prompt",
  "on the terminal, else one line of standard input.",
].join("\n");

const COMMON_OPTIONS = [
  "  -l, --log-level LEVEL      TRACE, DEBUG, INFO, WARN or ERROR (default: INFO); logs to stderr",
  "      --log-file FILE        Append log lines to FILE (created 0600) instead of stderr",
  "  -h, --help                 Print this help",
].join("\n");

const TOP = `rencfs ${VERSION}: an encrypted filesystem (FUSE) that keeps its data in a directory

Usage: rencfs [--log-level LEVEL] <COMMAND> [OPTIONS]

Commands:
  mount    Mount a data dir at a mount point (--init: create it when empty or missing)
  init     Create a new data dir and print its recovery code
  passwd   Change the password of a data dir (with the old password or the recovery code)
  fsck     Check a data dir object by object (--repair: fix what can be fixed)
  info     Show a data dir's format, cipher and key settings (no password needed)
  help     Print this help, or the help of a command

Options:
  -l, --log-level LEVEL  TRACE, DEBUG, INFO, WARN or ERROR (default: INFO); logs go to stderr
      --log-file FILE    Append log lines to FILE (created 0600) instead
  -h, --help             Print help ('rencfs COMMAND --help' for a command)
  -V, --version          Print the version

Exit codes: 0 ok, 1 error, 2 usage error, 3 wrong password, 4 data dir problem (also:
missing or empty without --init, in use), 5 mount point problem, 6 FUSE unavailable
(/dev/fuse cannot be opened, libfuse3 missing), 7 fsck found problems it did not repair.
`;

const MOUNT = `Mount a data dir at a mount point

Usage: rencfs mount --mount-point MNT --data-dir DIR [OPTIONS]

An empty or missing data dir is created only with --init, or when you answer y to "create a
new data dir at ...? [y/N]" on a terminal; otherwise the mount is refused (exit 4). A new data
dir's password is asked twice, and its recovery code goes to the terminal only (or to the
--recovery-code-file), never to a log. Before the password is asked, rencfs checks the data
dir (and that no other mount uses it), that /dev/fuse can be opened, and the mount point.

In the foreground rencfs runs until Ctrl-C, SIGTERM, SIGHUP or an unmount from outside (umount,
fusermount3 -u), then writes everything out and exits 0. When files are still open inside,
the first signal detaches the mount and rencfs serves them until they are closed; later
signals change nothing (kill -9 would lose their unsynced data and leave a dead mount,
cleared with -u).

Options:
  -m, --mount-point MNT      Where to mount: an existing, empty directory
  -d, --data-dir DIR         Where the encrypted data lives
  -c, --cipher NAME          Cipher of a new data dir: xchacha20-poly1305 (default),
                             chacha20-poly1305 or aes-256-gcm (also ChaCha20Poly1305,
                             Aes256Gcm; 96-bit nonces: about 2^32 chunk writes per file);
                             an existing data dir's cipher must match
  -r, --read-only            Mount read-only
  -o, --allow-other          Let other users access the mount (needs user_allow_other in
                             /etc/fuse.conf unless root)
  -s, --allow-root           Let root access the mount (not with --allow-other)
  -u, --umount-on-start      Clear a dead mount left at MNT by a crash or kill -9 (a live
                             mount is never unmounted)
      --nonempty             Mount even if MNT is not empty (hides its contents)
      --key-idle DURATION    Wipe keys from memory after this long unused (default 10m;
                             off: never); they come back from the kernel keyring
      --background           Detach once mounted; exit 0 when the mount is ready; logs then
                             go to syslog (tag rencfs) unless --log-file is given
      --init                 Create the data dir when it is missing or empty
      --recovery-code-file FILE
                             Write a new data dir's recovery code to FILE (created 0600;
                             an existing FILE is refused)
      --idle DURATION        Unmount after DURATION without activity and open files
                             (e.g. 90s, 30m, 2h, 1h30m)
      --log-names            At TRACE, log file names (left out by default)
      --memory-limit SIZE    Ceiling of rencfs's resident memory (default 256M, at least
                             192M); caches and data in flight are sized to stay under it
${PASSWORD_OPTIONS}
${COMMON_OPTIONS}

${PASSWORD_SOURCES}
`;

const INIT = `Create a new data dir

Usage: rencfs init --data-dir DIR [OPTIONS]

The directory must be missing or empty. The password is asked twice on a terminal. The
recovery code is printed to stdout when stdout is a terminal, else written where
--recovery-code-file says; without a terminal and without that option init refuses (exit 2)
before creating anything. Store the code somewhere safe: it is the only way back in when the
password is lost.

Options:
  -d, --data-dir DIR         The data dir to create
  -c, --cipher NAME          xchacha20-poly1305 (default), chacha20-poly1305, aes-256-gcm
                             (also ChaCha20Poly1305, Aes256Gcm; the last two: 96-bit nonces,
                             about 2^32 chunk writes per file)
      --recovery-code-file FILE
                             Write the recovery code to FILE (created 0600; an existing FILE
                             is refused); - writes it to stdout even when not a terminal
${PASSWORD_OPTIONS}
${COMMON_OPTIONS}

${PASSWORD_SOURCES}
`;

const PASSWD = `Change the password of a data dir

Usage: rencfs passwd --data-dir DIR [OPTIONS]

Asks the old password (or, with --recovery-code, the recovery code), then the new password
twice. Without a terminal the old password comes from the password options below and the new
one from RENCFS_NEW_PASSWORD (or the next line of standard input); the recovery code from
RENCFS_RECOVERY_CODE. Only the key file changes; a mounted data dir keeps working.

Options:
  -d, --data-dir DIR         The data dir
      --recovery-code        Prove access with the recovery code instead of the old password
${PASSWORD_OPTIONS.replaceAll("the password", "the old password")}
${COMMON_OPTIONS}
`;

const FSCK = `Check a data dir, and with --repair fix what can be fixed

Usage: rencfs fsck --data-dir DIR [--repair] [OPTIONS]

Opens every record, entry and chunk as the mount would, and checks names, link counts,
directory counts and that every object is reachable from the root. Prints one line per
problem (with the plaintext path where it is known) and a summary. Without --repair nothing
is changed; a data dir in use by a writable mount is refused (--repair: by any mount).

--repair removes debris (temporary files, trash, dangling entries), fixes counts, reconnects
orphans that hold data under /lost+found, and moves objects that fail authentication to q/
in the data dir (out of the tree). Damaged chunks cannot be repaired: their data is lost.

Exit codes: 0 clean (or everything repaired), 7 problems left, 3 wrong password,
4 data dir problem (not a data dir, in use).

Options:
  -d, --data-dir DIR         The data dir
      --repair               Fix what can be fixed (default: check only)
      --recovery-code        Unlock with the recovery code (RENCFS_RECOVERY_CODE or a prompt)
${PASSWORD_OPTIONS}
${COMMON_OPTIONS}

${PASSWORD_SOURCES}
`;

const INFO = `Show what a data dir is, without its password

Usage: rencfs info --data-dir DIR [--json]

Prints the format version, cipher, chunk size, key derivation (algorithm and parameters),
creation date, whether the key file and its backup rencfs.conf.bak are intact, and whether a
mount (or fsck) is using the data dir. Exit code 4 when DIR is not a rencfs data dir.

Options:
  -d, --data-dir DIR         The data dir
      --json                 Print one JSON object instead of text
${COMMON_OPTIONS}
`;

/** The help text of `command`, or of rencfs itself. */
export function helpText(command?: CommandName): string {
  switch (command) {
    case "mount":
      return MOUNT;
    case "init":
      return INIT;
    case "passwd":
      return PASSWD;
    case "fsck":
      return FSCK;
    case "info":
      return INFO;
    default:
      return TOP;
  }
}
