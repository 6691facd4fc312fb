/**
 * Reading and tuning the kernel's view of a mount: /proc/self/mountinfo and the mount's
 * backing-device (bdi) settings in sysfs. Only async I/O outside the mount, never a call that
 * the mount itself would have to answer (the serving thread would deadlock).
 *
 * @module
 */

import type { Logger } from "./context.ts";
import { dirtyLimitFor } from "./space_guard.ts";

/** One line of /proc/self/mountinfo, the fields the adapter uses. */
export interface MountInfo {
  /** Device number "major:minor"; a FUSE mount's bdi is named after it. */
  dev: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

/** Undoes mountinfo's octal escapes (\040 for space, \134 for backslash, ...). */
export function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses the text of /proc/self/mountinfo. */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const f = line.split(" ");
    const dash = f.indexOf("-", 6);
    if (f.length < 7 || dash < 0) continue;
    out.push({
      dev: f[2],
      mountPoint: unescapeMountPath(f[4]),
      fsType: f[dash + 1] ?? "",
      source: unescapeMountPath(f[dash + 2] ?? ""),
    });
  }
  return out;
}

/** The topmost mount at `path` (an absolute real path), if it is a mount point. */
export async function findMount(path: string): Promise<MountInfo | undefined> {
  const all = parseMountInfo(await Deno.readTextFile("/proc/self/mountinfo"));
  let found: MountInfo | undefined;
  for (const m of all) if (m.mountPoint === path) found = m; // later lines are stacked on top
  return found;
}

/**
 * Raises the readahead of the mount's bdi to `bytes`: the kernel caps FUSE readahead at the
 * bdi default (128 KiB) whatever max_readahead says, and 1 MiB reads are much faster here.
 */
/**
 * Bounds the dirty page cache the kernel may hold for the mount (its bdi's `max_bytes`, a share
 * of the machine's dirty limit by default) to `dirtyLimitFor` the backing disk's size; returns
 * the bound in force (the kernel's own when it cannot be changed: not root).
 */
export async function limitDirty(m: MountInfo, backingBytes: number, log: Logger): Promise<number> {
  const path = `/sys/class/bdi/${m.dev}/max_bytes`;
  let current = 64 << 20;
  try {
    current = Number((await Deno.readTextFile(path)).trim()) || current;
    const want = dirtyLimitFor(backingBytes, current);
    if (want < current) await Deno.writeTextFile(path, String(want));
    return want;
  } catch (e) {
    log.debug(`fuse: cannot set ${path}: ${(e as Error).message}`);
    return current;
  }
}

export async function raiseReadahead(m: MountInfo, bytes: number, log: Logger): Promise<void> {
  const path = `/sys/class/bdi/${m.dev}/read_ahead_kb`;
  try {
    await Deno.writeTextFile(path, String(Math.floor(bytes / 1024)));
  } catch (e) {
    // Not root, or sysfs read-only in a container: reads still work, in 128 KiB requests.
    log.debug(`fuse: cannot raise ${path}: ${(e as Error).message}`);
  }
}
