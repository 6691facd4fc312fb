/**
 * Inode records as the layers above use them: making a fresh one, copying one, telling its type.
 * The fields and their bytes are `format/record.ts` (its types re-exported here for `fs/`).
 */
import { type Hole, type InodeRecord, NO_TARGET, orNoTarget } from "./format/record.ts";
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from "./posix.ts";

export type { Hole, InodeRecord };

/** A fresh record with the given type and permission bits, owner and time. */
export function newRecord(
  ino: bigint,
  mode: number,
  owner: { uid: number; gid: number },
  nowNs: bigint,
  fileId: Uint8Array,
): InodeRecord {
  return {
    ino,
    seq: 1n,
    mode,
    uid: owner.uid,
    gid: owner.gid,
    nlink: 1,
    rdev: 0,
    size: 0,
    atimeNs: nowNs,
    mtimeNs: nowNs,
    ctimeNs: nowNs,
    fileId,
    holes: [],
    parent: 0n,
    subdirs: 0,
    entries: 0,
    target: NO_TARGET,
    xattrs: new Map(),
  };
}

/** Type bits of a mode. */
export function fileType(mode: number): number {
  return mode & S_IFMT;
}

export function isDir(r: InodeRecord): boolean {
  return fileType(r.mode) === S_IFDIR;
}

export function isRegular(r: InodeRecord): boolean {
  return fileType(r.mode) === S_IFREG;
}

export function isSymlink(r: InodeRecord): boolean {
  return fileType(r.mode) === S_IFLNK;
}

/** A deep copy, so a cached record can be changed while an older snapshot is being written. */
export function cloneRecord(r: InodeRecord): InodeRecord {
  return {
    ...r,
    fileId: r.fileId.slice(),
    holes: r.holes.map(([s, e]) => [s, e] as Hole),
    target: orNoTarget(r.target.slice()),
    xattrs: new Map(r.xattrs),
  };
}
