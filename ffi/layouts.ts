/**
 * Byte offsets and sizes of the C structs the FUSE adapter reads or writes, for Linux x86_64 /
 * aarch64 (LP64) with libfuse 3.14 (`FUSE_USE_VERSION 312`). `tests/ffi_layout_test.ts` compiles a
 * C program against the system headers and checks every number here.
 *
 * @module
 */

/** `struct stat` (the kernel's LP64 layout used by glibc on x86_64). */
export const Stat = {
  size: 144,
  dev: 0,
  ino: 8,
  nlink: 16,
  mode: 24,
  uid: 28,
  gid: 32,
  rdev: 40,
  size_: 48,
  blksize: 56,
  blocks: 64,
  atimSec: 72,
  atimNsec: 80,
  mtimSec: 88,
  mtimNsec: 96,
  ctimSec: 104,
  ctimNsec: 112,
} as const;

/** `struct statvfs`. */
export const Statvfs = {
  size: 112,
  bsize: 0,
  frsize: 8,
  blocks: 16,
  bfree: 24,
  bavail: 32,
  files: 40,
  ffree: 48,
  favail: 56,
  fsid: 64,
  flag: 72,
  namemax: 80,
} as const;

/** `struct fuse_entry_param`. */
export const EntryParam = {
  size: 176,
  ino: 0,
  generation: 8,
  attr: 16,
  attrTimeout: 160,
  entryTimeout: 168,
} as const;

/**
 * `struct fuse_file_info`. `bits` is the u32 holding the bitfields; the masks below are bit
 * positions within it (GCC allocates bitfields from the least significant bit on little-endian).
 */
export const FileInfo = {
  size: 40,
  flags: 0,
  bits: 4,
  fh: 16,
  lockOwner: 24,
  pollEvents: 32,
} as const;

/** Bits of {@link FileInfo.bits}. */
export const FileInfoBits = {
  writepage: 1 << 0,
  directIo: 1 << 1,
  keepCache: 1 << 2,
  flush: 1 << 3,
  nonseekable: 1 << 4,
  flockRelease: 1 << 5,
  cacheReaddir: 1 << 6,
  noflush: 1 << 7,
} as const;

/** `struct fuse_conn_info` (all fields `unsigned`). */
export const ConnInfo = {
  size: 128,
  protoMajor: 0,
  protoMinor: 4,
  maxWrite: 8,
  maxRead: 12,
  maxReadahead: 16,
  capable: 20,
  want: 24,
  maxBackground: 28,
  congestionThreshold: 32,
  timeGran: 36,
} as const;

/** `struct fuse_buf`. */
export const FuseBuf = {
  size: 40,
  size_: 0,
  flags: 8,
  mem: 16,
  fd: 24,
  pos: 32,
} as const;

/** `struct fuse_bufvec` with its one `fuse_buf` (notify_store, src/fuse/page_store.ts). */
export const FuseBufVec = {
  size: 64,
  count: 0,
  idx: 8,
  off: 16,
  buf: 24,
} as const;

/** `struct fuse_ctx` (prefix the adapter reads). */
export const Ctx = {
  uid: 0,
  gid: 4,
  pid: 8,
  umask: 12,
} as const;

/** `struct fuse_args`. */
export const Args = {
  size: 24,
  argc: 0,
  argv: 8,
  allocated: 16,
} as const;

/** `struct fuse_forget_data` (an element of the forget_multi array). */
export const ForgetData = {
  size: 16,
  ino: 0,
  nlookup: 8,
} as const;

/** `struct pollfd`. */
export const PollFd = {
  size: 8,
  fd: 0,
  events: 4,
  revents: 6,
} as const;

/** `struct iovec` (an element of the `fuse_reply_iov` array). */
export const Iovec = {
  size: 16,
  base: 0,
  len: 8,
} as const;

/** `struct fuse_lowlevel_ops`: size, and the slot index (offset / 8) of every operation. */
export const LowlevelOps = {
  size: 352,
  slots: {
    init: 0,
    destroy: 1,
    lookup: 2,
    forget: 3,
    getattr: 4,
    setattr: 5,
    readlink: 6,
    mknod: 7,
    mkdir: 8,
    unlink: 9,
    rmdir: 10,
    symlink: 11,
    rename: 12,
    link: 13,
    open: 14,
    read: 15,
    write: 16,
    flush: 17,
    release: 18,
    fsync: 19,
    opendir: 20,
    readdir: 21,
    releasedir: 22,
    fsyncdir: 23,
    statfs: 24,
    setxattr: 25,
    getxattr: 26,
    listxattr: 27,
    removexattr: 28,
    access: 29,
    create: 30,
    getlk: 31,
    setlk: 32,
    bmap: 33,
    ioctl: 34,
    poll: 35,
    write_buf: 36,
    retrieve_reply: 37,
    forget_multi: 38,
    flock: 39,
    fallocate: 40,
    readdirplus: 41,
    copy_file_range: 42,
    lseek: 43,
  },
} as const;

/** `FUSE_CAP_*` capability bits of `fuse_conn_info.capable` / `.want`. */
export const Cap = {
  ASYNC_READ: 1 << 0,
  POSIX_LOCKS: 1 << 1,
  ATOMIC_O_TRUNC: 1 << 3,
  EXPORT_SUPPORT: 1 << 4,
  DONT_MASK: 1 << 6,
  SPLICE_WRITE: 1 << 7,
  SPLICE_MOVE: 1 << 8,
  SPLICE_READ: 1 << 9,
  FLOCK_LOCKS: 1 << 10,
  IOCTL_DIR: 1 << 11,
  AUTO_INVAL_DATA: 1 << 12,
  READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14,
  ASYNC_DIO: 1 << 15,
  WRITEBACK_CACHE: 1 << 16,
  NO_OPEN_SUPPORT: 1 << 17,
  PARALLEL_DIROPS: 1 << 18,
  POSIX_ACL: 1 << 19,
  HANDLE_KILLPRIV: 1 << 20,
  CACHE_SYMLINKS: 1 << 23,
  NO_OPENDIR_SUPPORT: 1 << 24,
  EXPLICIT_INVAL_DATA: 1 << 25,
} as const;

/** `FUSE_SET_ATTR_*` bits of setattr's `to_set`. */
export const SetAttr = {
  MODE: 1 << 0,
  UID: 1 << 1,
  GID: 1 << 2,
  SIZE: 1 << 3,
  ATIME: 1 << 4,
  MTIME: 1 << 5,
  ATIME_NOW: 1 << 7,
  MTIME_NOW: 1 << 8,
  FORCE: 1 << 9,
  CTIME: 1 << 10,
  KILL_SUID: 1 << 11,
  KILL_SGID: 1 << 12,
  FILE: 1 << 13,
  KILL_PRIV: 1 << 14,
  OPEN: 1 << 15,
  TIMES_SET: 1 << 16,
  TOUCH: 1 << 17,
} as const;

/** `open(2)` flags and other libc constants the adapter needs (Linux x86_64 / aarch64 values). */
export const Libc = {
  O_ACCMODE: 0o3,
  O_RDONLY: 0o0,
  O_WRONLY: 0o1,
  O_RDWR: 0o2,
  O_APPEND: 0o2000,
  O_NONBLOCK: 0o4000,
  F_GETFL: 3,
  F_SETFL: 4,
  POLLIN: 0x1,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
  MNT_FORCE: 1,
  MNT_DETACH: 2,
  R_OK: 4,
  W_OK: 2,
  X_OK: 1,
  ST_RDONLY: 1,
} as const;
