/**
 * Tuning the kernel's view of a mount: the mount's backing-device (bdi) settings in sysfs. Only
 * async I/O outside the mount, never a call that the mount itself would have to answer (the
 * serving thread would deadlock). The mount table is read by `ffi/mounts.ts`.
 *
 * @module
 */

import type { MountEntry } from "../../ffi/mounts.ts";
import type { Logger } from "./context.ts";
import { dirtyLimitFor } from "./space_guard.ts";

/**
 * Bounds the dirty page cache the kernel may hold for the mount (its bdi's `max_bytes`, a share
 * of the machine's dirty limit by default) to `dirtyLimitFor` the backing disk's size; returns
 * the bound in force (the kernel's own when it cannot be changed: not root).
 */
export async function limitDirty(
  m: MountEntry,
  backingBytes: number,
  log: Logger,
): Promise<number> {
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

/**
 * Raises the readahead of the mount's bdi to `bytes`: the kernel caps FUSE readahead at the
 * bdi default (128 KiB) whatever max_readahead says, and 1 MiB reads are much faster here.
 */
export async function raiseReadahead(m: MountEntry, bytes: number, log: Logger): Promise<void> {
  const path = `/sys/class/bdi/${m.dev}/read_ahead_kb`;
  try {
    await Deno.writeTextFile(path, String(Math.floor(bytes / 1024)));
  } catch (e) {
    // Not root, or sysfs read-only in a container: reads still work, in 128 KiB requests.
    log.debug(`fuse: cannot raise ${path}: ${(e as Error).message}`);
  }
}
