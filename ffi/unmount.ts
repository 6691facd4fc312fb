/**
 * Unmounting, the one way for the CLI and the FUSE adapter: `umount` as root, `fusermount3 -u`
 * (setuid, so it works unprivileged) for a FUSE mount otherwise; `lazy` detaches a busy mount
 * (`-l`, `-z`) and lets it go once its last user is gone. As a last resort, root can abort and
 * detach a mount directly (umount2).
 *
 * @module
 */
import { cString, libc, libcIfAvailable } from "./libc.ts";

const MNT_FORCE = 1;
const MNT_DETACH = 2;

/** How to unmount. */
export interface UnmountOptions {
  /** Detach a busy mount lazily instead of failing. */
  lazy?: boolean;
  /** The mount is a FUSE mount (`fusermount3` can unmount it unprivileged). */
  fuse?: boolean;
  /** The path of `fusermount3` (default: looked up in PATH). */
  fusermount?: string;
  /** Whether this process is root (default: asked). */
  root?: boolean;
}

/** Whether this process runs as root (effective uid 0). */
export function isRoot(): boolean {
  const c = libcIfAvailable();
  return c ? c.geteuid() === 0 : Deno.uid() === 0;
}

/** The command that unmounts `path` (see the module comment). */
export function unmountCommand(path: string, opts: UnmountOptions = {}): string[] {
  const root = opts.root ?? isRoot();
  if (root || !opts.fuse) return opts.lazy ? ["umount", "-l", path] : ["umount", path];
  const fusermount = opts.fusermount ?? "fusermount3";
  return opts.lazy ? [fusermount, "-u", "-z", path] : [fusermount, "-u", path];
}

/** The outcome of {@link unmount}: the command run, and its error (stderr as one line) if any. */
export interface UnmountResult {
  command: string[];
  error?: string;
}

/** Unmounts `path` with {@link unmountCommand}; never throws. */
export async function unmount(path: string, opts: UnmountOptions = {}): Promise<UnmountResult> {
  const command = unmountCommand(path, opts);
  const error = await run(command);
  return error === undefined ? { command } : { command, error };
}

/**
 * Root only, last resort: aborts the connection of the mount at `path` (MNT_FORCE: no request
 * can block on it any more), then detaches it (MNT_DETACH). Best effort.
 */
export function forceDetach(path: string): void {
  const c = libc();
  const p = cString(path);
  c.umount2(p, MNT_FORCE);
  c.umount2(p, MNT_DETACH);
}

/** Runs a command; undefined on success, else its stderr (or exit status) as one line. */
async function run(argv: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (out.success) return undefined;
    const msg = new TextDecoder().decode(out.stderr).trim().replace(/\s+/g, " ");
    return msg || `exit status ${out.code}`;
  } catch (e) {
    return (e as Error).message; // not installed
  }
}
