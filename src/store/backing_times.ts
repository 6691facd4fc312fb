/**
 * The access and modification times of the data dir's own files and folders. Left to the
 * kernel they tell when each object was made and changed: a new directory's `.m` and its
 * pointer entry are born milliseconds apart, and a rename stamps both folders with one instant,
 * so an observer of the backing files can pair them and rebuild the tree. The store therefore
 * sets them itself right after each change it makes:
 *
 * - folders (the data dir, `o/`, shards, `.d` folders, `t/`): atime = mtime = the epoch (a folder
 *   that new files were created in: once for the burst, shortly after, see {@link FolderSettler});
 * - files: atime = mtime = a fresh random instant (2000–2034) at every creation and change (a
 *   file created by an open(2) keeps its descriptor: at its first write, or its close).
 *   Random rather than constant because sync and backup tools (rsync's quick check, Syncthing's
 *   scanner) take a file whose size and mtime are unchanged for an unchanged file, and most
 *   writes here keep the size (record slots and chunks rewritten in place).
 *
 * Reads leave no time at all: objects are opened and folders listed `O_NOATIME` ({@link NO_ATIME},
 * `listFolder`), so neither an atime changes nor, as setting one back would, a ctime. ctime and
 * the birth time cannot be set by a process: they still show when each object was made and last
 * changed (threat-model.md).
 * Every call here is best effort: a time that cannot be set (a read-only or foreign folder) is
 * no reason to fail the operation.
 */
import { constants } from "node:fs";
import { sysSetTimes, sysSetTimesOf } from "../../ffi/sysio.ts";

/** `open(2)` flag that keeps reads from updating atimes (owner or CAP_FOWNER only). */
export const NO_ATIME: number = constants.O_NOATIME ?? 0o1000000;

/** Folder times: the epoch, for atime and mtime (two `struct timespec`, all zero). */
const EPOCH = new BigInt64Array(4);
/** Random file times are drawn from [FROM, FROM + 2^30) seconds: 2000-01-01 to 2034. */
const FROM = 946_684_800n;
const times = new BigInt64Array(4);
const rnd = new Uint32Array(2);

/** A fresh random instant for atime and mtime, as two `struct timespec`. */
function randomTimes(): BigInt64Array<ArrayBuffer> {
  crypto.getRandomValues(rnd);
  const sec = FROM + BigInt(rnd[0] >>> 2);
  const nsec = BigInt(rnd[1] % 1_000_000_000);
  times[0] = times[2] = sec;
  times[1] = times[3] = nsec;
  return times;
}

/** Sets a folder's atime and mtime to the epoch (never follows a symlink). */
export function settleFolder(path: string): void {
  sysSetTimes(path, EPOCH);
}

/** How long a folder changed by a creation may show the kernel's times before the epoch again. */
export const FOLDER_SETTLE_MS = 1000;

/**
 * Folders whose times go back to the epoch a little later, once for many changes: a burst of
 * creations in one folder then costs one `utimensat` instead of one per file. Until then the
 * folder's mtime shows its last change, which its ctime shows anyway (threat-model.md, gap on
 * backing times); a daemon killed meanwhile leaves that mtime until the folder next changes.
 */
export class FolderSettler {
  readonly #pending = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Pending folders are settled `delayMs` after the first of them changed. */
  constructor(readonly delayMs: number = FOLDER_SETTLE_MS) {}

  /** Folder `path` changed: its times go back to the epoch within `delayMs` (or at `flush`). */
  later(path: string): void {
    this.#pending.add(path);
    if (this.#timer !== undefined) return;
    const timer = setTimeout(() => this.flush(), this.delayMs);
    // A pending settle keeps no process alive: the owner flushes before it lets go.
    Deno.unrefTimer(timer as unknown as number);
    this.#timer = timer;
  }

  /** Folders changed and not settled yet. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Settles every pending folder now (at unmount). */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const path of this.#pending) settleFolder(path);
    this.#pending.clear();
  }
}

/** Gives an open file a fresh random atime and mtime: it was just made or changed. */
export function settleFile(fd: number): void {
  sysSetTimesOf(fd, randomTimes());
}

/**
 * After `mkdirSync(folder, { recursive: true })` returned `first` (the first folder it made, or
 * undefined): settles every folder it made and the one they were made in, within `root` only
 * (absolute, as `first` is): a data dir's creation leaves the folder it was made in, and any
 * folder made on the way to it, as they were (the user's, not the data dir's).
 */
export function settleMadeFolders(folder: string, first: string | undefined, root?: string): void {
  if (first === undefined) return;
  const inside = (p: string) => root === undefined || p === root || p.startsWith(`${root}/`);
  const parent = folderOf(first);
  if (inside(parent)) settleFolder(parent);
  for (let p = folder; p.length >= first.length; p = folderOf(p)) {
    if (inside(p)) settleFolder(p);
  }
}

/** The folder holding `path`. */
export function folderOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}
