/**
 * The POSIX-shaped, inode-based operations of an encrypted filesystem. The FUSE adapter and the
 * path API are both thin layers over this interface; every behaviour users see is decided by its
 * implementation (`EncryptedFs`).
 *
 * Names are raw bytes (Linux names need not be UTF-8). Inode numbers are 64-bit `bigint`s; the
 * root directory is always {@link ROOT_INO}. Every method rejects with an `FsError` carrying an
 * errno (ENOENT, EEXIST, ENOTEMPTY, EISDIR, ENOTDIR, ENAMETOOLONG, EIO for an authentication
 * failure …).
 */

import type { Lease } from "../util/lease.ts";

// The root's inode number and the file type bits are written on disk: they live below fs/, in
// the store (no upward import), and are re-exported here for everyone else.
export {
  ROOT_INO,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
} from "../store/posix.ts";

/** Longest name, in bytes, of one directory entry. */
export const NAME_MAX = 255;

/** rename(2) flags. */
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;

/** setxattr(2) flags. */
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

/** Attributes of an inode, as stat(2) reports them. Times are nanoseconds since the epoch. */
export interface Attr {
  ino: bigint;
  /** Type bits and permission bits together, e.g. `S_IFREG | 0o644`. */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  /** Size in bytes of the plaintext (for a symlink: of its target). */
  size: number;
  /** 512-byte blocks the plaintext occupies (holes excluded). */
  blocks: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** A time to set: nanoseconds since the epoch, or `"now"`. */
export type TimeSpec = bigint | "now";

/** Changes for {@link FileSystem.setattr}; absent fields are left as they are. */
export interface SetAttrChanges {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: TimeSpec;
  mtime?: TimeSpec;
  ctime?: TimeSpec;
  /**
   * Clear set-user-ID, and set-group-ID when group execute is set, of a regular file: what a
   * local filesystem does when a caller without CAP_FSETID truncates it or anyone changes its
   * owner (the FUSE adapter sets it when the kernel asks).
   */
  clearSetIds?: boolean;
}

/** How a write, or an open that truncates, treats set-ID bits. */
export interface SetIdOptions {
  /**
   * Clear set-user-ID, and set-group-ID when group execute is set, as a local filesystem does
   * for a caller without CAP_FSETID. Default: true for a write, false for an open.
   */
  clearSetIds?: boolean;
  /** Called when set-ID bits were cleared (a cached copy of the mode is then stale). */
  onCleared?: () => void;
}

/** Who asks: owner of new inodes, and the umask already applied by the caller. */
export interface Caller {
  uid: number;
  gid: number;
}

/** One directory entry as readdir returns it. */
export interface DirEntry {
  name: Uint8Array;
  ino: bigint;
  /** Type bits of the entry (`S_IFDIR`, `S_IFREG` …). */
  type: number;
  /** Cookie to pass to readdir to continue after this entry. */
  next: bigint;
}

/** statfs(2) figures. */
export interface StatFs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namemax: number;
}

/** The inode-based operations; see the module comment. */
export interface FileSystem {
  readonly readOnly: boolean;
  lookup(parent: bigint, name: Uint8Array): Promise<Attr>;
  getattr(ino: bigint): Promise<Attr>;
  setattr(ino: bigint, changes: SetAttrChanges, fh?: number): Promise<Attr>;
  mknod(
    parent: bigint,
    name: Uint8Array,
    mode: number,
    rdev: number,
    caller: Caller,
  ): Promise<Attr>;
  mkdir(parent: bigint, name: Uint8Array, mode: number, caller: Caller): Promise<Attr>;
  symlink(parent: bigint, name: Uint8Array, target: Uint8Array, caller: Caller): Promise<Attr>;
  link(ino: bigint, newParent: bigint, newName: Uint8Array): Promise<Attr>;
  unlink(parent: bigint, name: Uint8Array): Promise<void>;
  rmdir(parent: bigint, name: Uint8Array): Promise<void>;
  rename(
    parent: bigint,
    name: Uint8Array,
    newParent: bigint,
    newName: Uint8Array,
    flags: number,
  ): Promise<void>;
  readlink(ino: bigint): Promise<Uint8Array>;
  /** Creates and opens a regular file; fails with EEXIST if the name exists. */
  create(
    parent: bigint,
    name: Uint8Array,
    mode: number,
    flags: number,
    caller: Caller,
  ): Promise<{ attr: Attr; fh: number }>;
  /** Opens an inode; honours O_TRUNC in `flags`. Returns a handle for read/write/release. */
  open(ino: bigint, flags: number, opts?: SetIdOptions): Promise<number>;
  /** Reads up to `length` bytes at `offset`; shorter only at end of file. */
  read(ino: bigint, fh: number, offset: number, length: number): Promise<Uint8Array>;
  /**
   * Over its memory budget: up to `max` names whose inodes only the kernel's cache keeps in
   * memory, for the kernel to drop (it then forgets the inodes). Optional.
   */
  forgettable?(max: number): { parent: bigint; name: Uint8Array }[];
  /**
   * Writes all of `data` at `offset`; returns the bytes written. `data` stays the caller's,
   * unless it came from {@link ZeroCopyFileSystem.writeBuffer}.
   */
  write(
    ino: bigint,
    fh: number,
    offset: number,
    data: Uint8Array,
    opts?: SetIdOptions,
  ): Promise<number>;
  flush(ino: bigint, fh: number): Promise<void>;
  fsync(ino: bigint, fh: number, dataOnly: boolean): Promise<void>;
  release(ino: bigint, fh: number): Promise<void>;
  /** Allocates (plain mode: extends the size like a write of zeros, never shrinks). */
  fallocate(
    ino: bigint,
    fh: number,
    offset: number,
    length: number,
    mode: number,
    opts?: SetIdOptions,
  ): Promise<void>;
  /** Opens a directory for listing; returns a handle for readdir/releasedir. */
  opendir(ino: bigint): Promise<number>;
  /**
   * Lists entries after cookie `offset` (0 = from the start, including "." and ".."), at most
   * `limit`. An entry added or removed during a listing is reported at most once.
   */
  /** `plus`: the caller will ask for each entry's attributes next (readdirplus). */
  readdir(
    ino: bigint,
    fh: number,
    offset: bigint,
    limit: number,
    plus?: boolean,
  ): Promise<DirEntry[]>;
  releasedir(ino: bigint, fh: number): Promise<void>;
  fsyncdir(ino: bigint, fh: number): Promise<void>;
  statfs(): Promise<StatFs>;
  getxattr(ino: bigint, name: string): Promise<Uint8Array>;
  setxattr(ino: bigint, name: string, value: Uint8Array, flags: number): Promise<void>;
  listxattr(ino: bigint): Promise<string[]>;
  removexattr(ino: bigint, name: string): Promise<void>;
  /**
   * The kernel (or another holder) keeps a reference to `ino`: an unlinked inode is deleted
   * only once every reference is dropped with {@link forget} and every handle is released.
   */
  retain(ino: bigint): void;
  /** Drops `n` references taken with {@link retain}. */
  forget(ino: bigint, n: number): void;
  /** Writes every dirty record and chunk and makes it durable. */
  syncAll(): Promise<void>;
  /** Flushes everything and closes the store; the object is unusable afterwards. */
  close(): Promise<void>;
}

/**
 * Calls that lend buffers instead of copying, for callers that copy data in and out at once
 * (the FUSE adapter). Optional: a {@link FileSystem} without them is served through `read` and
 * `write`; {@link hasZeroCopy} tells which.
 */
export interface ZeroCopyFileSystem extends FileSystem {
  /**
   * {@link FileSystem.read} as consecutive read-only pieces (views of decrypted chunks), lent
   * until the lease is released: release it after the last use of every piece (optional; at
   * most once).
   */
  readPieces(ino: bigint, fh: number, offset: number, length: number): Promise<Lease>;
  /**
   * A buffer (contents undefined) for the data of the next {@link FileSystem.write}, which
   * takes it over: after that write the caller must not touch it, whatever the outcome.
   */
  writeBuffer(bytes: number): Uint8Array;
  /** Lets go of memory kept for speed (spare buffers), for a mount that has gone idle. */
  trimMemory(): void;
  /**
   * Bytes of buffers shared with worker threads: they count as this thread's ArrayBuffer memory
   * (`Deno.memoryUsage().external`) without being garbage. Optional: none when absent.
   */
  sharedBytes?(): number;
}

/** Whether `fs` offers the {@link ZeroCopyFileSystem} calls. */
export function hasZeroCopy(fs: FileSystem): fs is ZeroCopyFileSystem {
  const z = fs as Partial<ZeroCopyFileSystem>;
  return typeof z.readPieces === "function" && typeof z.writeBuffer === "function" &&
    typeof z.trimMemory === "function";
}
