/** Detaching a stale mount (after a crash or kill -9) with the system tools. */
import { log } from "./log.ts";

async function tryRun(cmd: string, args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    if (!out.success) {
      const err = new TextDecoder().decode(out.stderr).trim();
      log("mount").debug("{cmd} failed: {err}", { cmd: [cmd, ...args].join(" "), err });
    }
    return out.success;
  } catch {
    return false; // tool not installed
  }
}

/**
 * Lazily unmounts `path`: `fusermount3 -uz` for a FUSE mount (works unprivileged), else or if
 * that fails `umount -l`. Lazy, because a dead FUSE server leaves the mount unusable but busy.
 */
export async function lazyUnmount(path: string, fuse: boolean): Promise<boolean> {
  if (fuse && await tryRun("fusermount3", ["-uz", path])) return true;
  return await tryRun("umount", ["-l", path]);
}
