/**
 * Attribute changes: setattr(2)-style changes (size, mode, owner, times) and extended
 * attributes, all kept in the inode's record. A shrink writes the record before chunks are
 * dropped (see FileData.truncate).
 * @module
 */
import { type InodeRecord, isDir, isRegular } from "../store/inode_record.ts";
import { checkOffset, fsError } from "./errors.ts";
import { type FsCore, NO_XATTR, nowNs, timeOf } from "./fs_core.ts";
import type { Inode } from "./inode_table.ts";
import { S_IFMT, type SetAttrChanges, XATTR_CREATE, XATTR_REPLACE } from "./types.ts";

/**
 * Clears set-user-ID, and set-group-ID when group execute is set (without it, set-group-ID marks
 * mandatory locking and stays), of a regular file's record: what Linux does when a file is
 * written or truncated by a caller without CAP_FSETID, or changes owner. (A local filesystem
 * also clears that set-group-ID for a writer outside the file's group; the rule the kernel
 * gives FUSE servers is this one.) Returns whether it changed anything.
 */
export function clearSetIdBits(r: InodeRecord): boolean {
  if (!hasClearableSetIds(r)) return false;
  r.mode &= ~0o4000;
  if (r.mode & 0o010) r.mode &= ~0o2000;
  return true;
}

/** Whether {@link clearSetIdBits} would change `r`. */
export function hasClearableSetIds(r: InodeRecord): boolean {
  return isRegular(r) && ((r.mode & 0o4000) !== 0 || (r.mode & 0o2010) === 0o2010);
}

const XATTR_SIZE_MAX = 65536;
const XATTR_TOTAL_MAX = 256 * 1024;
const U32_MAX = 0xffff_ffff;

// Library callers are not bound by the types: a value the record cannot hold would otherwise sit
// in the inode's record and fail every later write of it (and the close of the data dir).
function checkChanges(ch: SetAttrChanges): void {
  for (const k of ["atime", "mtime", "ctime"] as const) {
    const t = ch[k];
    if (t === undefined || t === "now") continue;
    if (typeof t !== "bigint") {
      throw fsError("EINVAL", `setattr: ${k} must be "now" or a bigint of nanoseconds`);
    }
  }
  for (const k of ["uid", "gid"] as const) {
    const v = ch[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= U32_MAX)) {
      throw fsError("EINVAL", `setattr: ${k} must be an integer from 0 to 2^32-1`);
    }
  }
  if (ch.mode !== undefined && !(Number.isInteger(ch.mode) && ch.mode >= 0)) {
    throw fsError("EINVAL", "setattr: mode must be a non-negative integer");
  }
}

/** setattr and the extended attributes of inodes. */
export class Attributes {
  readonly #core: FsCore;

  constructor(core: FsCore) {
    this.#core = core;
  }

  /** Applies `ch` to inode `ino`; the inode changed. EINVAL, changing nothing, for a bad value. */
  async setattr(ino: bigint, ch: SetAttrChanges): Promise<Inode> {
    const core = this.#core;
    checkChanges(ch);
    core.writable();
    const node = await core.table.get(ino);
    const r = node.rec;
    const now = nowNs();
    if (ch.size !== undefined) {
      if (isDir(r)) throw fsError("EISDIR");
      if (!isRegular(r)) throw fsError("EINVAL");
      checkOffset(ch.size);
      if (ch.size !== r.size) {
        // Shrinking: the record must be on disk before chunks are dropped.
        const shrinking = ch.size < r.size;
        await core.data.truncate(node, ch.size, async () => {
          r.mtimeNs = r.ctimeNs = now;
          await core.save(node, shrinking);
        });
      } else {
        r.mtimeNs = r.ctimeNs = now;
      }
    }
    if (ch.mode !== undefined) r.mode = (r.mode & S_IFMT) | (ch.mode & 0o7777);
    if (ch.uid !== undefined) r.uid = ch.uid;
    if (ch.gid !== undefined) r.gid = ch.gid;
    if (ch.clearSetIds) clearSetIdBits(r);
    if (ch.atime !== undefined) r.atimeNs = timeOf(ch.atime, now);
    if (ch.mtime !== undefined) r.mtimeNs = timeOf(ch.mtime, now);
    r.ctimeNs = ch.ctime !== undefined ? timeOf(ch.ctime, now) : now;
    // An unlinked inode (still open, or being evicted by the kernel) lives in memory only.
    if (r.nlink > 0) await core.save(node);
    return node;
  }

  /** The value of extended attribute `name` (ENODATA when absent). */
  async getxattr(ino: bigint, name: string): Promise<Uint8Array> {
    const v = (await this.#core.table.get(ino)).rec.xattrs.get(name);
    if (!v) throw NO_XATTR;
    return v.slice();
  }

  /** Sets extended attribute `name` (XATTR_CREATE / XATTR_REPLACE in `flags`). */
  async setxattr(ino: bigint, name: string, value: Uint8Array, flags: number): Promise<void> {
    const core = this.#core;
    core.writable();
    if (name.length === 0 || name.length > 255) throw fsError("ERANGE");
    if (value.length > XATTR_SIZE_MAX) throw fsError("E2BIG");
    const node = await core.table.get(ino);
    const x = node.rec.xattrs;
    if (flags & XATTR_CREATE && x.has(name)) throw fsError("EEXIST");
    if (flags & XATTR_REPLACE && !x.has(name)) throw fsError("ENODATA");
    let total = value.length + name.length;
    for (const [k, v] of x) if (k !== name) total += k.length + v.length;
    if (total > XATTR_TOTAL_MAX) throw fsError("ENOSPC", "too many extended attributes");
    // A regular file's record lives in fixed slots before its content: check it still fits.
    const trial = { ...node.rec, xattrs: new Map(x).set(name, value) };
    if (!core.records.fits(trial, node.slotSize)) {
      throw fsError(
        "ENOSPC",
        "extended attributes of a regular file are limited to about 2.4 KiB",
      );
    }
    x.set(name, value.slice());
    node.rec.ctimeNs = nowNs();
    await core.save(node);
  }

  /** The names of the extended attributes of inode `ino`. */
  async listxattr(ino: bigint): Promise<string[]> {
    return [...(await this.#core.table.get(ino)).rec.xattrs.keys()];
  }

  /** Removes extended attribute `name` (ENODATA when absent). */
  async removexattr(ino: bigint, name: string): Promise<void> {
    const core = this.#core;
    core.writable();
    const node = await core.table.get(ino);
    if (!node.rec.xattrs.delete(name)) throw fsError("ENODATA");
    node.rec.ctimeNs = nowNs();
    await core.save(node);
  }
}
