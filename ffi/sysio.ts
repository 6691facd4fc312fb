/**
 * Small synchronous file operations straight through libc (bound in `ffi/libc.ts`): open,
 * pread, pwrite, fstat, ftruncate, close, unlink, rename, posix_fadvise, and fsync/fdatasync
 * off the JS thread. Metadata I/O (records, entries) is a few hundred bytes per call, and the cost
 * that dominates is not the syscall but the runtime around it: `node:fs` turns every ENOENT of
 * a lookup into a thrown error with a stack trace and a Node-style code, which costs more than
 * the syscall itself. These bindings return `-errno` instead of throwing.
 *
 * Content I/O (large) is done by the chunk workers (`src/store/chunk_io.ts`) on descriptors
 * opened here.
 *
 * @module
 */

import { constants } from "node:fs";
import { cString, errno, libc } from "./libc.ts";
import { Stat } from "./layouts.ts";

// errno of this thread, read right after the failed call (5 = EIO if it reads as 0).
const lastErrno = () => errno() || 5;

const PREFETCH_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW |
  0o2000000; // O_CLOEXEC

/** Linux errno names for the codes a data dir's small I/O can meet. */
const NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  5: "EIO",
  6: "ENXIO",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  16: "EBUSY",
  17: "EEXIST",
  18: "EXDEV",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  27: "EFBIG",
  28: "ENOSPC",
  30: "EROFS",
  36: "ENAMETOOLONG",
  38: "ENOSYS",
  39: "ENOTEMPTY",
  40: "ELOOP",
  95: "EOPNOTSUPP",
  122: "EDQUOT",
};

/** The errno name of a negative result (`ENOENT` …), or `E<number>`. */
export function errnoName(negErrno: number): string {
  return NAMES[-negErrno] ?? `E${-negErrno}`;
}

/** An Error shaped like node:fs's (`code`, `errno`) for a negative result of these calls. */
export function sysError(negErrno: number, what: string, path: string): Error & { code: string } {
  const code = errnoName(negErrno);
  const e = new Error(`${code}: ${what} '${path}'`) as Error & { code: string; errno: number };
  e.code = code;
  e.errno = negErrno;
  return e;
}

/** open(2): the descriptor, or -errno. */
export function sysOpen(path: string, flags: number, mode = 0): number {
  const fd = libc().open(cString(path), flags | 0o2000000, /* O_CLOEXEC */ mode);
  return fd >= 0 ? fd : -lastErrno();
}

/** pread(2) into `buf` from byte `pos`: bytes read, or -errno. */
export function sysPread(fd: number, buf: Uint8Array<ArrayBuffer>, pos: number): number {
  const n = Number(libc().pread(fd, buf, BigInt(buf.length), BigInt(pos)));
  return n >= 0 ? n : -lastErrno();
}

/** pwrite(2) of `buf` at byte `pos`: bytes written, or -errno. */
export function sysPwrite(fd: number, buf: Uint8Array<ArrayBuffer>, pos: number): number {
  const n = Number(libc().pwrite(fd, buf, BigInt(buf.length), BigInt(pos)));
  return n >= 0 ? n : -lastErrno();
}

/** fstat(2): file type and permission bits, and size; or -errno. */
export function sysFstat(fd: number): { mode: number; size: number } | number {
  const st = new Uint8Array(Stat.size);
  if (libc().fstat(fd, st) !== 0) return -lastErrno();
  const dv = new DataView(st.buffer);
  return { mode: dv.getUint32(Stat.mode, true), size: Number(dv.getBigInt64(Stat.size_, true)) };
}

/** ftruncate(2): 0 or -errno. */
export function sysFtruncate(fd: number, size: number): number {
  return libc().ftruncate(fd, BigInt(size)) === 0 ? 0 : -lastErrno();
}

/**
 * Whether bytes `from .. to-1` may hold data: false only when lseek(2) `SEEK_DATA` says the range
 * is a hole (or past the end). A filesystem without hole reporting says "data" (the kernel's
 * default), so the caller reads and finds out.
 */
export function sysMayHoldData(fd: number, from: number, to: number): boolean {
  const at = Number(libc().lseek(fd, BigInt(from), 3 /* SEEK_DATA */));
  if (at >= 0) return at < to;
  return lastErrno() !== 6; // ENXIO: no data from `from` to the end of the file
}

/** fallocate(2) `PUNCH_HOLE | KEEP_SIZE`: frees bytes `from .. from+bytes-1`; 0 or -errno. */
export function sysPunchHole(fd: number, from: number, bytes: number): number {
  return libc().fallocate(fd, 3, BigInt(from), BigInt(bytes)) === 0 ? 0 : -lastErrno();
}

/** close(2). */
export function sysClose(fd: number): void {
  libc().close(fd);
}

/**
 * fdatasync(2) off the JS thread. Rejects with a node-style error (errno read on the worker
 * thread is not reachable, so the code is EIO).
 */
export async function sysFdatasync(fd: number, path: string): Promise<void> {
  if ((await libc().fdatasync(fd)) !== 0) throw sysError(-5, "fdatasync", path);
}

/** fsync(2) off the JS thread (errno is not reachable: the code is EIO). */
export async function sysFsync(fd: number, path: string): Promise<void> {
  if ((await libc().fsync(fd)) !== 0) throw sysError(-5, "fsync", path);
}

/**
 * Starts reading the first `bytes` of each file into the page cache without waiting: a cold
 * directory listing then has every entry file's read in flight at once instead of one disk
 * round trip per entry. Files that cannot be opened are skipped (the real read reports them).
 */
export function sysPrefetch(paths: string[], bytes: number): void {
  const s = libc();
  for (const p of paths) {
    const fd = s.open(cString(p), PREFETCH_FLAGS, 0);
    if (fd < 0) continue;
    sysAdvise(fd, bytes);
    s.close(fd);
  }
}

/** Starts reading `bytes` of open file `fd` (from byte `from`) into the page cache, without waiting. */
export function sysAdvise(fd: number, bytes: number, from = 0): void {
  libc().posix_fadvise(fd, BigInt(from), BigInt(bytes), 3 /* POSIX_FADV_WILLNEED */);
}

/** unlink(2): 0 or -errno. */
export function sysUnlink(path: string): number {
  return libc().unlink(cString(path)) === 0 ? 0 : -lastErrno();
}

/** rename(2): 0 or -errno. */
export function sysRename(from: string, to: string): number {
  return libc().rename(cString(from), cString(to)) === 0 ? 0 : -lastErrno();
}
