/**
 * The one libc binding: every libc symbol the project calls is declared here, in one table, and
 * bound by one `Deno.dlopen` per thread (lazily, at the first call on that thread: a chunk
 * worker imports this module and gets its own binding). libfuse is bound apart, in
 * `ffi/fuse.ts`. The modules beside this one wrap the symbols per concern (`sysio.ts` file I/O,
 * `memory.ts` secret memory, `dirlock.ts`, `keyring.ts`, `harden.ts`, `unix_dgram.ts`,
 * `environ.ts`, `unmount.ts`); code outside `ffi/` calls those rather than symbols where it can.
 *
 * errno is read in one place, {@link errno}; a failure becomes a `SysError` (`sys_error.ts`).
 *
 * @module
 */

import { SysError } from "./sys_error.ts";

// Variadic functions (fcntl, open, syscall) are bound with fixed parameters: on LP64 ABIs an
// integer or pointer argument is passed the same way to both.
const SYMBOLS = {
  // FUSE adapter: poll (a synchronous and a nonblocking binding of the same symbol: the latter
  // runs on a worker thread so the event loop keeps turning while it waits), fcntl, free.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  poll_nb: { name: "poll", parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  // The INIT reply's capture (fd_capture.ts): a pipe stands in for /dev/fuse for one write.
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  dup3: { parameters: ["i32", "i32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  strlen: { parameters: ["pointer"], result: "usize" },
  free: { parameters: ["pointer"], result: "void" },
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  getuid: { parameters: [], result: "u32" },
  geteuid: { parameters: [], result: "u32" },
  getgid: { parameters: [], result: "u32" },
  __errno_location: { parameters: [], result: "pointer" },
  malloc_trim: { parameters: ["usize"], result: "i32" },
  getenv: { parameters: ["buffer"], result: "pointer" },

  // File I/O (sysio.ts).
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  // Reads of what the page cache holds only (RWF_NOWAIT): iovec array, count, offset, flags.
  preadv2: { parameters: ["i32", "buffer", "i32", "i64", "i32"], result: "isize" },
  // Chunk workers: on the blocking pool, so several batches are in flight at once.
  pread_nb: {
    name: "pread",
    parameters: ["i32", "buffer", "usize", "i64"],
    result: "isize",
    nonblocking: true,
  },
  pwrite_nb: {
    name: "pwrite",
    parameters: ["i32", "buffer", "usize", "i64"],
    result: "isize",
    nonblocking: true,
  },
  close: { parameters: ["i32"], result: "i32" },
  // On a worker thread: a data sync can take milliseconds.
  fdatasync: { parameters: ["i32"], result: "i32", nonblocking: true },
  fsync: { parameters: ["i32"], result: "i32", nonblocking: true },
  syncfs: { parameters: ["i32"], result: "i32", nonblocking: true },
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  fallocate: { parameters: ["i32", "i32", "i64", "i64"], result: "i32" },
  unlink: { parameters: ["buffer"], result: "i32" },
  rename: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_fadvise: { parameters: ["i32", "i64", "i64", "i32"], result: "i32" },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  futimens: { parameters: ["i32", "buffer"], result: "i32" },
  // getdents64(2) through syscall(2): lists a folder opened O_NOATIME, which node:fs cannot do.
  getdents64: {
    name: "syscall",
    parameters: ["i64", "i32", "buffer", "usize"],
    result: "i64",
    nonblocking: true,
  },
  getdents64_sync: {
    name: "syscall",
    parameters: ["i64", "i32", "buffer", "usize"],
    result: "i64",
  },

  // Secret memory (memory.ts).
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  mlock: { parameters: ["pointer", "usize"], result: "i32" },
  munlock: { parameters: ["pointer", "usize"], result: "i32" },
  madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  mprotect: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  sysconf: { parameters: ["i32"], result: "i64" },
  getcontext: { parameters: ["buffer"], result: "i32" },
  pthread_sigmask: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  explicit_bzero: { parameters: ["pointer", "usize"], result: "void" },

  // Process hardening (harden.ts).
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },

  // Kernel keyring (keyring.ts): add_key(2) and keyctl(2) through syscall(2), one shape each.
  add_key: {
    name: "syscall",
    parameters: ["i64", "buffer", "buffer", "buffer", "usize", "i64"],
    result: "i64",
  },
  keyctl: { name: "syscall", parameters: ["i64", "i64", "i64", "i64", "i64"], result: "i64" },
  keyctl_read: {
    name: "syscall",
    parameters: ["i64", "i64", "i64", "buffer", "usize"],
    result: "i64",
  },

  // AF_UNIX datagrams to the system log (unix_dgram.ts).
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound libc symbols. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

// Module state is per thread: each worker that imports this module binds libc once for itself.
let bound: Libc | undefined;

function bind(): Libc {
  // Never closed: the process already has libc mapped, and mappings made through it (secret
  // memory) live as long as the process.
  bound = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return bound;
}

/** This thread's libc symbols; throws when FFI is not permitted or libc is not glibc. */
export function libc(): Libc {
  return bound ?? bind();
}

/**
 * This thread's libc symbols, or null where they cannot be had (not Linux, no `--allow-ffi`,
 * no glibc): for the callers that fall back (secret memory, the keyring, the data dir lock, the
 * system log). Asks the permission first, so it never prompts.
 */
export function libcIfAvailable(): Libc | null {
  if (bound) return bound;
  try {
    if (Deno.build.os !== "linux") return null;
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
    return bind();
  } catch {
    return null;
  }
}

let errnoView: Deno.UnsafePointerView | undefined;

/**
 * The calling thread's errno. Only meaningful right after a *synchronous* call on this thread:
 * a nonblocking call sets errno on a pool thread, where it cannot be read.
 */
export function errno(): number {
  if (!errnoView) {
    const p = libc().__errno_location();
    if (p === null) return 0;
    errnoView = new Deno.UnsafePointerView(p); // a thread's errno never moves
  }
  return errnoView.getInt32();
}

/** EIO: what a failure reports when errno cannot be read (a nonblocking call) or reads 0. */
export const EIO = 5;

/** A {@link SysError} for the synchronous call that just failed on this thread (errno, or EIO). */
export function lastError(syscall: string, path?: string): SysError {
  return new SysError(errno() || EIO, syscall, path);
}

const enc = new TextEncoder();

/** A NUL-terminated copy of `s` for `char *` parameters. */
export function cString(s: string | Uint8Array): Uint8Array<ArrayBuffer> {
  if (typeof s === "string") {
    const out = new Uint8Array(s.length * 3 + 1); // room for any UTF-8 encoding, and the NUL
    const { written } = enc.encodeInto(s, out);
    return out.subarray(0, written + 1);
  }
  const out = new Uint8Array(s.length + 1);
  out.set(s);
  return out;
}

/** Copies the NUL-terminated bytes at `p` (raw bytes: Linux names need not be UTF-8). */
export function copyCString(p: Deno.PointerValue): Uint8Array {
  if (p === null) return new Uint8Array(0);
  const len = Number(libc().strlen(p));
  if (len === 0) return new Uint8Array(0);
  return new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, len)).slice();
}

/** Copies `len` bytes at `p` into memory owned by JS. */
export function copyBytes(p: Deno.PointerValue, len: number): Uint8Array {
  if (p === null || len === 0) return new Uint8Array(0);
  return new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, len)).slice();
}
