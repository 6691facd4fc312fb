/**
 * Small synchronous file operations straight through libc (bound in `ffi/libc.ts`): open,
 * pread (also of cached bytes only), pwrite, fstat, ftruncate, close, unlink, rename,
 * posix_fadvise, utimensat, futimens;
 * and off the JS thread fsync, fdatasync, syncfs and getdents64. Metadata I/O (records,
 * entries) is a few hundred bytes per call, and the cost that dominates is not the syscall but
 * the runtime around it: `node:fs` turns every ENOENT of a lookup into a thrown error with a
 * stack trace and a Node-style code, which costs more than the syscall itself. So these
 * bindings return `-errno` instead of throwing; `sysError(r, …)` turns such a result into the
 * one error type, `SysError` (`sys_error.ts`), where the caller does throw. The calls that run
 * off the JS thread cannot read errno (it is set on a pool thread): their failures are EIO.
 *
 * Content I/O (large) is done by the chunk workers (`src/store/chunk_io.ts`) on descriptors
 * opened here.
 *
 * @module
 */

import { constants } from "node:fs";
import { cString, EIO, errno, libc } from "./libc.ts";
import { Stat } from "./layouts.ts";
import { SysError } from "./sys_error.ts";

export { errnoName, SysError, sysError } from "./sys_error.ts";

// errno of this thread, read right after the failed call (EIO if it reads as 0).
const lastErrno = () => errno() || EIO;

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;

const PREFETCH_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW |
  0o2000000; // O_CLOEXEC

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

const RWF_NOWAIT = 0x8;
const iovec = new BigUint64Array(2);

/**
 * preadv2(2) with `RWF_NOWAIT`: reads into `buf` from byte `pos` only what the page cache holds,
 * never waiting for the disk (the kernel may start reading the rest). Bytes read (short when a
 * later part is not cached, 0 at the end of the file), or -errno: -EAGAIN when the first bytes
 * are not cached, -EOPNOTSUPP on a filesystem that cannot tell.
 */
export function sysPreadCached(fd: number, buf: Uint8Array<ArrayBuffer>, pos: number): number {
  iovec[0] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
  iovec[1] = BigInt(buf.length);
  const n = Number(libc().preadv2(fd, iovec, 1, BigInt(pos), RWF_NOWAIT));
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
 * fdatasync(2) off the JS thread. Rejects with a {@link SysError} EIO (errno, set on the pool
 * thread, is not reachable).
 */
export async function sysFdatasync(fd: number, path: string): Promise<void> {
  if ((await libc().fdatasync(fd)) !== 0) throw new SysError(EIO, "fdatasync", path);
}

/** fsync(2) off the JS thread; rejects with a {@link SysError} EIO (errno is not reachable). */
export async function sysFsync(fd: number, path: string): Promise<void> {
  if ((await libc().fsync(fd)) !== 0) throw new SysError(EIO, "fsync", path);
}

/** syncfs(2) of the filesystem holding `fd`, off the JS thread; rejects with EIO. */
export async function sysSyncfs(fd: number, path: string): Promise<void> {
  if ((await libc().syncfs(fd)) !== 0) throw new SysError(EIO, "syncfs", path);
}

const SYS_GETDENTS64 = Deno.build.arch === "aarch64" ? 61n : 217n; // syscall numbers

/**
 * getdents64(2) of folder `fd` into `buf`, off the JS thread: bytes of `linux_dirent64` records
 * (0 at the end), or -EIO (errno is not reachable).
 */
export async function sysGetdents(fd: number, buf: Uint8Array<ArrayBuffer>): Promise<number> {
  const n = Number(await libc().getdents64(SYS_GETDENTS64, fd, buf, BigInt(buf.length)));
  return n >= 0 ? n : -EIO;
}

/** {@link sysGetdents} on this thread: bytes, or -errno. */
export function sysGetdentsSync(fd: number, buf: Uint8Array<ArrayBuffer>): number {
  const n = Number(libc().getdents64_sync(SYS_GETDENTS64, fd, buf, BigInt(buf.length)));
  return n >= 0 ? n : -lastErrno();
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

/**
 * utimensat(2) of `path` (never following a symlink) to `times` (atime and mtime, two
 * `struct timespec`): 0 or -errno.
 */
export function sysSetTimes(path: string, times: BigInt64Array<ArrayBuffer>): number {
  return libc().utimensat(AT_FDCWD, cString(path), times, AT_SYMLINK_NOFOLLOW) === 0
    ? 0
    : -lastErrno();
}

/** futimens(2) of open file `fd` to `times` (as {@link sysSetTimes}): 0 or -errno. */
export function sysSetTimesOf(fd: number, times: BigInt64Array<ArrayBuffer>): number {
  return libc().futimens(fd, times) === 0 ? 0 : -lastErrno();
}
