/**
 * The plaintext of an inode's metadata record and its binary encoding. The record is sealed
 * by `record_store.ts`; this module only knows fields and bytes.
 */
import { DecodeError, Reader, Writer } from "../util/codec.ts";
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from "./posix.ts";

/** Version byte of the record layout (docs/format.md, "Inode records"). */
export const RECORD_LAYOUT = 1;

/** Records are padded to a multiple of this many bytes (symlink and xattr lengths hidden). */
export const RECORD_QUANTUM = 256;

/** A run of chunk indexes `[start, end)` that were never written: they read as zeros. */
export type Hole = [start: number, end: number];

/** Everything rencfs knows about one inode. */
export interface InodeRecord {
  ino: bigint;
  /** Write sequence number: of the two record slots on disk, the valid one with the highest wins. */
  seq: bigint;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  rdev: number;
  size: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** Random per inode; with the inode number it keys and binds every content chunk. */
  fileId: Uint8Array;
  /** Sorted, disjoint, non-adjacent chunk ranges that read as zeros without stored chunks. */
  holes: Hole[];
  /** Directories: the parent's inode number (for ".."). */
  parent: bigint;
  /** Directories: how many entries are subdirectories (nlink = 2 + this). */
  subdirs: number;
  /** Directories: how many entries there are (rmdir needs zero). */
  entries: number;
  /** Symlinks: the target bytes. */
  target: Uint8Array;
  xattrs: Map<string, Uint8Array>;
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** Encodes a record (layout {@link RECORD_LAYOUT}). */
export function encodeRecord(r: InodeRecord): Uint8Array {
  const w = new Writer()
    .u8(RECORD_LAYOUT)
    .u64(r.ino)
    .u64(r.seq)
    .u32(r.mode)
    .u32(r.uid)
    .u32(r.gid)
    .u32(r.nlink)
    .u32(r.rdev)
    .u64(r.size)
    .i64(r.atimeNs)
    .i64(r.mtimeNs)
    .i64(r.ctimeNs)
    .raw(r.fileId)
    .u64(r.parent)
    .u32(r.subdirs)
    .u32(r.entries)
    .bytes(r.target)
    .u32(r.holes.length);
  for (const [s, e] of r.holes) w.u64(s).u64(e);
  w.u32(r.xattrs.size);
  for (const [k, v] of r.xattrs) w.bytes(enc.encode(k)).bytes(v);
  return w.pad(RECORD_QUANTUM).finish();
}

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

// Shared by every record without a symlink target (a zero-length array cannot be written to):
// a typed array costs ~200 bytes, and tens of thousands of records stay live after an untar.
const NO_TARGET = new Uint8Array(0);

/** Decodes a record; throws DecodeError when malformed (only possible for a forged record). */
export function decodeRecord(bytes: Uint8Array): InodeRecord {
  const rd = new Reader(bytes);
  const layout = rd.u8();
  if (layout !== RECORD_LAYOUT) throw new DecodeError(`unknown record layout ${layout}`);
  const r: InodeRecord = {
    ino: rd.u64(),
    seq: rd.u64(),
    mode: rd.u32(),
    uid: rd.u32(),
    gid: rd.u32(),
    nlink: rd.u32(),
    rdev: rd.u32(),
    size: rd.u53(),
    atimeNs: rd.i64(),
    mtimeNs: rd.i64(),
    ctimeNs: rd.i64(),
    fileId: rd.raw(16).slice(),
    parent: rd.u64(),
    subdirs: rd.u32(),
    entries: rd.u32(),
    target: orNoTarget(rd.bytes()),
    holes: [],
    xattrs: new Map(),
  };
  const nh = rd.u32();
  for (let i = 0; i < nh; i++) r.holes.push([rd.u53(), rd.u53()]);
  const nx = rd.u32();
  for (let i = 0; i < nx; i++) r.xattrs.set(dec.decode(rd.bytes()), rd.bytes());
  rd.pad();
  rd.end();
  return r;
}

function orNoTarget(b: Uint8Array): Uint8Array {
  return b.length === 0 ? NO_TARGET : b;
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
