/**
 * Deno FFI bindings of libfuse3's low-level API (libfuse 3.x, `FUSE_USE_VERSION 312`): session
 * life cycle, the `fuse_reply_*` family, directory-buffer helpers, request context and cache
 * notifications, plus the C signatures of the `fuse_lowlevel_ops` callbacks the adapter installs.
 *
 * Every binding but one is synchronous: the adapter calls them on the JS thread that also runs
 * the callbacks (see `src/fuse/session.ts`). The exception, `…_inval_entry_nb`, runs on a pool
 * thread: the kernel takes the directory's lock for it, which a request waiting for this very
 * thread's reply may hold. libfuse serialises writes to /dev/fuse itself.
 *
 * @module
 */

const SYMBOLS = {
  fuse_session_new: {
    parameters: ["buffer", "buffer", "usize", "pointer"],
    result: "pointer",
  },
  fuse_session_mount: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_session_fd: { parameters: ["pointer"], result: "i32" },
  fuse_session_receive_buf: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_session_process_buf: { parameters: ["pointer", "buffer"], result: "void" },
  fuse_session_exit: { parameters: ["pointer"], result: "void" },
  fuse_session_exited: { parameters: ["pointer"], result: "i32" },
  fuse_session_unmount: { parameters: ["pointer"], result: "void" },
  fuse_session_destroy: { parameters: ["pointer"], result: "void" },
  fuse_opt_free_args: { parameters: ["buffer"], result: "void" },
  fuse_pkgversion: { parameters: [], result: "pointer" },

  fuse_reply_err: { parameters: ["pointer", "i32"], result: "i32" },
  fuse_reply_none: { parameters: ["pointer"], result: "void" },
  fuse_reply_entry: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_reply_create: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  fuse_reply_attr: { parameters: ["pointer", "buffer", "f64"], result: "i32" },
  fuse_reply_readlink: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_reply_open: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_reply_write: { parameters: ["pointer", "usize"], result: "i32" },
  fuse_reply_buf: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  fuse_reply_iov: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  fuse_reply_statfs: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_reply_xattr: { parameters: ["pointer", "usize"], result: "i32" },

  fuse_add_direntry: {
    parameters: ["pointer", "buffer", "usize", "buffer", "buffer", "i64"],
    result: "usize",
  },
  fuse_add_direntry_plus: {
    parameters: ["pointer", "buffer", "usize", "buffer", "buffer", "i64"],
    result: "usize",
  },

  fuse_req_ctx: { parameters: ["pointer"], result: "pointer" },
  fuse_req_getgroups: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  fuse_req_interrupted: { parameters: ["pointer"], result: "i32" },

  fuse_lowlevel_notify_inval_inode: {
    parameters: ["pointer", "u64", "i64", "i64"],
    result: "i32",
  },
  fuse_lowlevel_notify_inval_entry: {
    parameters: ["pointer", "u64", "buffer", "usize"],
    result: "i32",
  },
  fuse_lowlevel_notify_inval_entry_nb: {
    name: "fuse_lowlevel_notify_inval_entry",
    parameters: ["pointer", "u64", "buffer", "usize"],
    result: "i32",
    nonblocking: true,
  },
  // On a pool thread: the kernel may wait for a page lock that a read this thread must answer
  // first holds (src/fuse/page_store.ts).
  fuse_lowlevel_notify_store_nb: {
    name: "fuse_lowlevel_notify_store",
    parameters: ["pointer", "u64", "i64", "buffer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  fuse_lowlevel_notify_delete: {
    parameters: ["pointer", "u64", "u64", "buffer", "usize"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound libfuse3 symbols. */
export type Fuse = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Where distributions put libfuse3; the bare soname comes first so `LD_LIBRARY_PATH` wins. */
const CANDIDATES = [
  "libfuse3.so.3",
  "/usr/lib/x86_64-linux-gnu/libfuse3.so.3",
  "/usr/lib/aarch64-linux-gnu/libfuse3.so.3",
  "/usr/lib64/libfuse3.so.3",
  "/usr/lib/libfuse3.so.3",
  "/lib/x86_64-linux-gnu/libfuse3.so.3",
];

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/**
 * Opens libfuse3 once and returns its symbols, or `undefined` when no candidate loads (the
 * caller turns that into an install hint).
 */
export function loadFuse(): Fuse | undefined {
  if (lib) return lib.symbols;
  for (const path of CANDIDATES) {
    try {
      lib = Deno.dlopen(path, SYMBOLS);
      return lib.symbols;
    } catch {
      // try the next location
    }
  }
  return undefined;
}

/** libfuse's version string, e.g. "3.14.0". */
export function fuseVersion(fuse: Fuse): string {
  const p = fuse.fuse_pkgversion();
  return p === null ? "unknown" : new Deno.UnsafePointerView(p).getCString();
}

/**
 * C signatures of the `fuse_lowlevel_ops` callbacks the adapter implements, keyed by the slot
 * names of `LowlevelOps.slots` in `ffi/layouts.ts`. `fuse_ino_t`, `off_t`, `size_t` and `dev_t`
 * arrive as bigint; `mode_t` and `int` as number.
 */
export const OP_SIGNATURES = {
  init: { parameters: ["pointer", "pointer"], result: "void" },
  destroy: { parameters: ["pointer"], result: "void" },
  lookup: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  forget: { parameters: ["pointer", "u64", "u64"], result: "void" },
  getattr: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  setattr: { parameters: ["pointer", "u64", "pointer", "i32", "pointer"], result: "void" },
  readlink: { parameters: ["pointer", "u64"], result: "void" },
  mknod: { parameters: ["pointer", "u64", "pointer", "u32", "u64"], result: "void" },
  mkdir: { parameters: ["pointer", "u64", "pointer", "u32"], result: "void" },
  unlink: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  rmdir: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  symlink: { parameters: ["pointer", "pointer", "u64", "pointer"], result: "void" },
  rename: {
    parameters: ["pointer", "u64", "pointer", "u64", "pointer", "u32"],
    result: "void",
  },
  link: { parameters: ["pointer", "u64", "u64", "pointer"], result: "void" },
  open: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  read: { parameters: ["pointer", "u64", "usize", "i64", "pointer"], result: "void" },
  write: {
    parameters: ["pointer", "u64", "pointer", "usize", "i64", "pointer"],
    result: "void",
  },
  flush: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  release: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  fsync: { parameters: ["pointer", "u64", "i32", "pointer"], result: "void" },
  opendir: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  readdir: { parameters: ["pointer", "u64", "usize", "i64", "pointer"], result: "void" },
  releasedir: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  fsyncdir: { parameters: ["pointer", "u64", "i32", "pointer"], result: "void" },
  statfs: { parameters: ["pointer", "u64"], result: "void" },
  setxattr: {
    parameters: ["pointer", "u64", "pointer", "pointer", "usize", "i32"],
    result: "void",
  },
  getxattr: { parameters: ["pointer", "u64", "pointer", "usize"], result: "void" },
  listxattr: { parameters: ["pointer", "u64", "usize"], result: "void" },
  removexattr: { parameters: ["pointer", "u64", "pointer"], result: "void" },
  access: { parameters: ["pointer", "u64", "i32"], result: "void" },
  create: { parameters: ["pointer", "u64", "pointer", "u32", "pointer"], result: "void" },
  forget_multi: { parameters: ["pointer", "usize", "pointer"], result: "void" },
  fallocate: {
    parameters: ["pointer", "u64", "i32", "i64", "i64", "pointer"],
    result: "void",
  },
  readdirplus: { parameters: ["pointer", "u64", "usize", "i64", "pointer"], result: "void" },
} as const satisfies Record<string, Deno.UnsafeCallbackDefinition>;

/** Name of an implemented operation. */
export type OpName = keyof typeof OP_SIGNATURES;

/** The JS function type of the callback for operation `K`. */
export type OpHandler<K extends OpName> = Deno.UnsafeCallbackFunction<
  (typeof OP_SIGNATURES)[K]["parameters"],
  (typeof OP_SIGNATURES)[K]["result"]
>;

/** One handler per implemented operation. */
export type OpHandlers = { [K in OpName]: OpHandler<K> };
