/**
 * The libc functions called through FFI: for the FUSE adapter `poll` (a synchronous and a
 * nonblocking binding of the same symbol), `fcntl`, `strlen`, `free`, `umount2`, the process
 * credentials, `malloc_trim` and `errno`; for the store's small file I/O the calls wrapped by
 * `ffi/sysio.ts`. The mmap/mlock family lives in `ffi/memory.ts`.
 *
 * @module
 */

const SYMBOLS = {
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  // Same symbol, run on a worker thread so the event loop keeps turning while it waits.
  poll_nb: { name: "poll", parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  // fcntl is variadic; an int third argument is passed like a fixed one on LP64 ABIs.
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  strlen: { parameters: ["pointer"], result: "usize" },
  free: { parameters: ["pointer"], result: "void" },
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  getuid: { parameters: [], result: "u32" },
  geteuid: { parameters: [], result: "u32" },
  getgid: { parameters: [], result: "u32" },
  __errno_location: { parameters: [], result: "pointer" },
  malloc_trim: { parameters: ["usize"], result: "i32" },
  // File I/O for ffi/sysio.ts. open is variadic; the mode is passed like a fixed argument on
  // LP64 ABIs.
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  // On a worker thread: a data sync can take milliseconds.
  fdatasync: { parameters: ["i32"], result: "i32", nonblocking: true },
  fsync: { parameters: ["i32"], result: "i32", nonblocking: true },
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  fallocate: { parameters: ["i32", "i32", "i64", "i64"], result: "i32" },
  unlink: { parameters: ["buffer"], result: "i32" },
  rename: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_fadvise: { parameters: ["i32", "i64", "i64", "i32"], result: "i32" },
  // Backing times of the store's files and folders (src/store/backing_times.ts).
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  futimens: { parameters: ["i32", "buffer"], result: "i32" },
  // getdents64(2) through syscall(2) (variadic; fixed-argument passing on LP64), on a worker
  // thread: lists a folder opened O_NOATIME, which node:fs cannot do.
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
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound libc symbols. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** Opens libc once (the process already has it mapped) and returns its symbols. */
export function libc(): Libc {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

/**
 * The calling thread's errno. Only meaningful right after a *synchronous* call on this thread:
 * a nonblocking call sets errno on another thread.
 */
export function errno(): number {
  if (!errnoView) {
    const p = libc().__errno_location();
    if (p === null) return 0;
    errnoView = new Deno.UnsafePointerView(p); // the JS thread's errno never moves
  }
  return errnoView.getInt32();
}
let errnoView: Deno.UnsafePointerView | undefined;

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
