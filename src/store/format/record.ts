/**
 * The plaintext of an inode record, layout 1 (docs/format.md, "Inode record plaintext"): what
 * each record slot of an inode file seals. Fields in order, little-endian:
 *
 * ```
 * layout u8 = 1 || ino u64 || seq u64 || mode u32 || uid, gid, nlink, rdev u32 || size u64 ||
 * atime, mtime, ctime i64 (ns) || file id (16) || parent u64 || subdirs u32 || entries u32 ||
 * target (u32 length || bytes) || holes (u32 count || count × (u64 first, u64 end)) ||
 * xattrs (u32 count || count × (u32 len || UTF-8 name, u32 len || value)) || padding
 * ```
 *
 * padded (`Writer.pad`) to a multiple of {@link RECORD_QUANTUM}. Where a record lives and how it
 * is sealed is `inode_file.ts` and `blob.ts`; the helpers that make and copy records are
 * `src/store/inode_record.ts`.
 * @module
 */
import { DecodeError, Reader, Writer } from "../../util/codec.ts";
import { RECORD_LAYOUT } from "./version.ts";

/** Records are padded to a multiple of this many bytes (symlink and xattr lengths hidden). */
export const RECORD_QUANTUM = 256;

/** Most hole ranges kept in one record; past that the smallest are written out as zeros. */
export const MAX_HOLES = 64;

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

/** Bytes of the file id. */
export const FILE_ID_BYTES = 16;

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/**
 * The target of every record without one (a zero-length array cannot be written to): a typed
 * array costs ~200 bytes, and tens of thousands of records stay live after an untar.
 */
export const NO_TARGET: Uint8Array = new Uint8Array(0);

/** `b`, or {@link NO_TARGET} when it is empty. */
export function orNoTarget(b: Uint8Array): Uint8Array {
  return b.length === 0 ? NO_TARGET : b;
}

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
    fileId: rd.raw(FILE_ID_BYTES).slice(),
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
