/**
 * Small synchronous file operations straight through libc: open, pread, pwrite, close, unlink
 * and renameat2. Metadata I/O (records, entries) is a few hundred bytes per call, and the cost
 * that dominates is not the syscall but the runtime around it: `node:fs` turns every ENOENT of
 * a lookup into a thrown error with a stack trace and a Node-style code (50–100 µs each, measured
 * in profiles of `tar -x`). These bindings return `-errno` instead of throwing.
 *
 * Content I/O (large, asynchronous) stays on `node:fs`.
 *
 * @module
 */

import { constants } from "node:fs";

const SYMBOLS = {
  // open is variadic; the mode is passed like a fixed argument on LP64 ABIs.
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  // On a worker thread: a data sync can take milliseconds.
  fdatasync: { parameters: ["i32"], result: "i32", nonblocking: true },
  unlink: { parameters: ["buffer"], result: "i32" },
  posix_fadvise: { parameters: ["i32", "i64", "i64", "i32"], result: "i32" },
  renameat2: { parameters: ["i32", "buffer", "i32", "buffer", "u32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
let errnoView: Deno.UnsafePointerView | undefined;

function sym() {
  if (!lib) {
    lib = Deno.dlopen("libc.so.6", SYMBOLS);
  }
  return lib.symbols;
}

// errno of this thread: read right after the failed call, before anything else can run.
function lastErrno(): number {
  if (!errnoView) {
    const p = sym().__errno_location();
    if (p === null) return 5;
    errnoView = new Deno.UnsafePointerView(p);
  }
  return errnoView.getInt32();
}

const enc = new TextEncoder();
function cPath(path: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(path.length * 3 + 1);
  const { written } = enc.encodeInto(path, out);
  return out.subarray(0, written + 1) as Uint8Array<ArrayBuffer>;
}

const PREFETCH_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW |
  0o2000000; // O_CLOEXEC

/** `AT_FDCWD` for renameat2. */
const AT_FDCWD = -100;
/** renameat2 flag: fail with EEXIST instead of replacing. */
export const RENAME_NOREPLACE = 1;

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
  const fd = sym().open(cPath(path), flags | 0o2000000, /* O_CLOEXEC */ mode);
  return fd >= 0 ? fd : -lastErrno();
}

/** pread(2) into `buf` from byte `pos`: bytes read, or -errno. */
export function sysPread(fd: number, buf: Uint8Array<ArrayBuffer>, pos: number): number {
  const n = Number(sym().pread(fd, buf, BigInt(buf.length), BigInt(pos)));
  return n >= 0 ? n : -lastErrno();
}

/** pwrite(2) of `buf` at byte `pos`: bytes written, or -errno. */
export function sysPwrite(fd: number, buf: Uint8Array<ArrayBuffer>, pos: number): number {
  const n = Number(sym().pwrite(fd, buf, BigInt(buf.length), BigInt(pos)));
  return n >= 0 ? n : -lastErrno();
}

/** close(2). */
export function sysClose(fd: number): void {
  sym().close(fd);
}

/**
 * fdatasync(2) off the JS thread. Rejects with a node-style error (errno read on the worker
 * thread is not reachable, so the code is EIO).
 */
export async function sysFdatasync(fd: number, path: string): Promise<void> {
  if ((await sym().fdatasync(fd)) !== 0) throw sysError(-5, "fdatasync", path);
}

/**
 * Starts reading the first `bytes` of each file into the page cache without waiting: a cold
 * directory listing then has every entry file's read in flight at once instead of one disk
 * round trip per entry. Files that cannot be opened are skipped (the real read reports them).
 */
export function sysPrefetch(paths: string[], bytes: number): void {
  const s = sym();
  for (const p of paths) {
    const fd = s.open(cPath(p), PREFETCH_FLAGS, 0);
    if (fd < 0) continue;
    s.posix_fadvise(fd, 0n, BigInt(bytes), 3 /* POSIX_FADV_WILLNEED */);
    s.close(fd);
  }
}

/** unlink(2): 0 or -errno. */
export function sysUnlink(path: string): number {
  return sym().unlink(cPath(path)) === 0 ? 0 : -lastErrno();
}

/** renameat2(2) relative to the working directory: 0 or -errno. */
export function sysRename(from: string, to: string, flags = 0): number {
  return sym().renameat2(AT_FDCWD, cPath(from), AT_FDCWD, cPath(to), flags) === 0
    ? 0
    : -lastErrno();
}
