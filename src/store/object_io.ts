/**
 * Reading objects of a data dir that an attacker may have planted things in: never follow a
 * symlink, never block on a FIFO or device, never read more than an object can legitimately be.
 *
 * Small objects (records, entries: a few hundred bytes, page-cached) are read and written
 * with synchronous syscalls made straight through libc (`ffi/sysio.ts`): each costs a few
 * microseconds, while an async file operation in Deno costs ten times that in thread hand-off
 * and a `node:fs` ENOENT as much again in error objects, which would dominate every lookup.
 * Content chunks and every fsync stay asynchronous.
 */
import { constants } from "node:fs";
import { lstatSync } from "node:fs";
import {
  errnoName,
  sysClose,
  sysError,
  sysFstat,
  sysGetdents,
  sysGetdentsSync,
  sysOpen,
  sysPread,
  sysPwrite,
} from "../../ffi/sysio.ts";
import { errorCode } from "../../ffi/sys_error.ts";
import { NO_ATIME } from "./backing_times.ts";

// Most objects are a few hundred bytes: one read into this buffer tells the size.
const scratch = new Uint8Array(64 * 1024);

/** Thrown for an object that is not a plain file of a plausible size. */
export class NotAnObjectError extends Error {}

/** Flags for opening an object: no symlink following, no blocking open of a FIFO. */
export const SAFE_OPEN = constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * The first bytes of an object, as many as `want(head)` says from what one read of up to `first`
 * bytes (64 KiB at most) returned; null when it does not exist. A FIFO opened O_NONBLOCK reads
 * as empty and a directory fails to read: neither ever passes for an object. A device planted
 * here yields at most `want` bytes of junk, which fail to parse like any damaged object.
 */
export function readHead(
  path: string,
  want: (head: Uint8Array) => number,
  first = scratch.length,
): Uint8Array | null {
  const fd = openObject(path);
  if (fd === null) return null;
  try {
    return readHeadOf(fd, path, want, first);
  } finally {
    sysClose(fd);
  }
}

/**
 * open(2) of an object or folder of the data dir, `O_NOATIME` so that reads leave no access
 * times (backing_times.ts); without it where the kernel refuses it (a data dir owned by another
 * user). The descriptor, or -errno.
 */
export function sysOpenObject(path: string, flags: number, mode = 0): number {
  const fd = sysOpen(path, flags | NO_ATIME, mode);
  return fd === -1 /* EPERM */ ? sysOpen(path, flags, mode) : fd;
}

const LIST_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const dec = new TextDecoder();

/**
 * The names in a folder (without `.` and `..`; only up to the first for which `enough` is
 * true, when given), or null when it does not exist; other failures throw. A symlink is refused
 * (ELOOP) unless `follow` (the data dir itself may be one). Read with getdents64 on a descriptor
 * opened `O_NOATIME`, off the JS thread: a listing leaves neither an atime nor (as setting it
 * back would) a ctime behind.
 */
export async function listFolder(
  path: string,
  opts: { enough?: (name: string) => boolean; follow?: boolean } = {},
): Promise<string[] | null> {
  const fd = openFolder(path, opts.follow);
  if (fd === null) return null;
  const names: string[] = [];
  try {
    const buf = new Uint8Array(64 * 1024);
    // A small folder is read on this thread: the hop to a worker and back costs more than its
    // one or two blocks (readdir and rmdir of each directory of `rm -rf` list its folder).
    const st = sysFstat(fd);
    const small = typeof st !== "number" && st.size <= SMALL_FOLDER_BYTES;
    for (;;) {
      const n = small ? sysGetdentsSync(fd, buf) : await sysGetdents(fd, buf);
      if (parseDents(buf, n, names, path, opts.enough)) return names;
    }
  } finally {
    sysClose(fd);
  }
}

/** Folders up to this size (ext4: bytes of directory blocks) are listed synchronously. */
const SMALL_FOLDER_BYTES = 16 * 1024;

/** {@link listFolder} on this thread, for small folders (the trash at open). */
export function listFolderSync(path: string): string[] | null {
  const fd = openFolder(path);
  if (fd === null) return null;
  const names: string[] = [];
  try {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = sysGetdentsSync(fd, buf);
      if (parseDents(buf, n, names, path)) return names;
    }
  } finally {
    sysClose(fd);
  }
}

function openFolder(path: string, follow = false): number | null {
  const fd = sysOpenObject(path, follow ? LIST_FLAGS & ~constants.O_NOFOLLOW : LIST_FLAGS);
  if (fd >= 0) return fd;
  if (errnoName(fd) === "ENOENT") return null;
  throw sysError(fd, "opendir", path);
}

// Appends the names of the `n` bytes of linux_dirent64 records in `buf` (d_reclen at 16, the
// NUL-terminated name at 19); true when the listing is done (end of folder, or `enough`).
function parseDents(
  buf: Uint8Array,
  n: number,
  names: string[],
  path: string,
  enough?: (name: string) => boolean,
): boolean {
  if (n < 0) throw sysError(n, "getdents64", path);
  if (n === 0) return true;
  const dv = new DataView(buf.buffer, buf.byteOffset);
  for (let at = 0; at < n;) {
    const reclen = dv.getUint16(at + 16, true);
    const end = buf.indexOf(0, at + 19);
    const name = dec.decode(
      buf.subarray(at + 19, end < 0 || end > at + reclen ? at + reclen : end),
    );
    at += reclen;
    if (name === "." || name === "..") continue;
    names.push(name);
    if (enough?.(name)) return true;
  }
  return false;
}

/** Opens an object for reading (see {@link readHead}); null when it does not exist. */
export function openObject(path: string): number | null {
  const fd = sysOpenObject(path, constants.O_RDONLY | SAFE_OPEN);
  if (fd >= 0) return fd;
  const code = errnoName(fd);
  if (code === "ENOENT") return null;
  if (code === "ELOOP") throw new NotAnObjectError(`${path} is a symlink, not an object`);
  throw sysError(fd, "open", path);
}

/**
 * {@link readHead} of an object already opened with {@link openObject} (not closed here).
 * `borrow`: the result may be a view of a shared buffer, valid only until the next read here
 * (the caller consumes it before it awaits anything); saves allocating a copy per object, which
 * for the 8 KiB head of every file of a listing cost more than the read.
 */
export function readHeadOf(
  fd: number,
  path: string,
  want: (head: Uint8Array) => number,
  first = scratch.length,
  borrow = false,
): Uint8Array {
  const firstRead = Math.min(first, scratch.length);
  const n = sysPread(fd, scratch.subarray(0, firstRead), 0);
  if (n < 0) {
    throw new NotAnObjectError(`${path} cannot be read as an object: ${errnoName(n)}`);
  }
  const need = want(scratch.subarray(0, n));
  const took = Math.min(need, n);
  if (need <= n || n < firstRead) {
    return borrow ? scratch.subarray(0, took) : scratch.slice(0, took);
  }
  const buf = new Uint8Array(need);
  buf.set(scratch.subarray(0, n));
  let got = n;
  while (got < need) {
    const r = sysPread(fd, buf.subarray(got), got);
    if (r <= 0) break;
    got += r;
  }
  return buf.subarray(0, got);
}

/** Writes all of `data` at byte `pos` of `fd` (a descriptor from `sysOpen`). */
export function writeAllSync(fd: number, data: Uint8Array, pos: number, path = "?"): void {
  let done = 0;
  while (done < data.length) {
    const n = sysPwrite(fd, data.subarray(done) as Uint8Array<ArrayBuffer>, pos + done);
    if (n < 0) throw sysError(n, "write", path);
    if (n === 0) throw sysError(-28, "write", path); // no progress: the disk is full
    done += n;
  }
}

/**
 * Opens `path` with `flags` (and `mode` when creating) through libc; throws a `SysError` (with
 * `code`, like a node:fs error) on failure.
 */
export function openRaw(path: string, flags: number, mode = 0): number {
  const fd = sysOpenObject(path, flags, mode);
  if (fd < 0) throw sysError(fd, "open", path);
  return fd;
}

/**
 * Remembers which folders of a data dir were checked to be real directories (not symlinks
 * planted to redirect writes elsewhere), so each is checked once per session.
 */
export class FolderGuard {
  readonly #ok = new Set<string>();

  /**
   * True when `path` is a real directory, false if missing; throws NotAnObjectError for
   * anything else. Synchronous: one `lstat`, and none for a folder already checked.
   */
  check(path: string): boolean {
    if (this.#ok.has(path)) return true;
    let st;
    try {
      st = lstatSync(path);
    } catch (e) {
      if (errorCode(e) === "ENOENT") return false;
      throw e;
    }
    if (!st.isDirectory()) throw new NotAnObjectError(`${path} is not a real directory`);
    if (this.#ok.size > 100_000) this.#ok.clear();
    this.#ok.add(path);
    return true;
  }

  /** Forgets a folder that was removed. */
  forget(path: string): void {
    this.#ok.delete(path);
  }
}
