/**
 * Encoding of reply structs (`struct stat`, `fuse_entry_param`, `fuse_file_info`, `statvfs`)
 * into memory the adapter owns. libfuse copies a reply into the device write synchronously, so
 * one scratch buffer per struct kind is reused for every reply on the (single) JS thread.
 *
 * @module
 */

import { EntryParam, FileInfo, FileInfoBits, Stat, Statvfs } from "../../ffi/layouts.ts";
import type { Attr, StatFs } from "../fs/types.ts";

const NS = 1_000_000_000n;

/** Block size reported in `st_blksize`: large, so tools copy in big requests. */
export const BLKSIZE = 1 << 17;

/** Writes `attr` as a `struct stat` into `view` at byte offset `at`. */
export function writeStat(view: DataView, at: number, attr: Attr): void {
  view.setBigUint64(at + Stat.dev, 0n, true);
  view.setBigUint64(at + Stat.ino, attr.ino, true);
  view.setBigUint64(at + Stat.nlink, BigInt(attr.nlink), true);
  view.setUint32(at + Stat.mode, attr.mode, true);
  view.setUint32(at + Stat.uid, attr.uid, true);
  view.setUint32(at + Stat.gid, attr.gid, true);
  view.setBigUint64(at + Stat.rdev, BigInt(attr.rdev), true);
  view.setBigInt64(at + Stat.size_, BigInt(attr.size), true);
  view.setBigInt64(at + Stat.blksize, BigInt(BLKSIZE), true);
  view.setBigInt64(at + Stat.blocks, BigInt(attr.blocks), true);
  writeTime(view, at + Stat.atimSec, attr.atimeNs);
  writeTime(view, at + Stat.mtimSec, attr.mtimeNs);
  writeTime(view, at + Stat.ctimSec, attr.ctimeNs);
}

function writeTime(view: DataView, at: number, ns: bigint): void {
  // Floor division so times before 1970 keep 0 <= nsec < 1e9 as timespec requires.
  let sec = ns / NS;
  let nsec = ns % NS;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += NS;
  }
  view.setBigInt64(at, sec, true);
  view.setBigInt64(at + 8, nsec, true);
}

/** Reads a `struct timespec` at `at` as nanoseconds since the epoch. */
export function readTime(view: DataView, at: number): bigint {
  return view.getBigInt64(at, true) * NS + view.getBigInt64(at + 8, true);
}

/** A reusable `struct stat`. */
export class StatBuf {
  readonly bytes: Uint8Array<ArrayBuffer> = new Uint8Array(Stat.size);
  private readonly view = new DataView(this.bytes.buffer);
  /** Fills the buffer with `attr` and returns it. */
  fill(attr: Attr): Uint8Array<ArrayBuffer> {
    writeStat(this.view, 0, attr);
    return this.bytes;
  }
  /** Only ino and type, as `fuse_add_direntry` reads them. */
  fillDirent(ino: bigint, type: number): Uint8Array<ArrayBuffer> {
    this.view.setBigUint64(Stat.ino, ino, true);
    this.view.setUint32(Stat.mode, type, true);
    return this.bytes;
  }
}

/** A reusable `struct fuse_entry_param`. */
export class EntryBuf {
  readonly bytes: Uint8Array<ArrayBuffer> = new Uint8Array(EntryParam.size);
  private readonly view = new DataView(this.bytes.buffer);
  /** `attrTimeout` is read at each fill: the mount shortens it when the disk is nearly full. */
  constructor(
    private readonly attrTimeout: () => number,
    private readonly entryTimeout: number,
  ) {}
  /**
   * Fills the entry for `attr`. `nodeId` is the inode the kernel gets a reference to: 0 for
   * readdirplus' "." and ".." entries, which the kernel must not count.
   */
  fill(attr: Attr, nodeId: bigint = attr.ino): Uint8Array<ArrayBuffer> {
    this.view.setBigUint64(EntryParam.ino, nodeId, true);
    this.view.setBigUint64(EntryParam.generation, 0n, true);
    writeStat(this.view, EntryParam.attr, attr);
    this.view.setFloat64(EntryParam.attrTimeout, this.attrTimeout(), true);
    this.view.setFloat64(EntryParam.entryTimeout, this.entryTimeout, true);
    return this.bytes;
  }
}

/** Options the adapter sets on every opened file or directory. */
export interface OpenReplyFlags {
  keepCache?: boolean;
  directIo?: boolean;
  cacheReaddir?: boolean;
}

/** A reusable `struct fuse_file_info` for `fuse_reply_open` / `fuse_reply_create`. */
export class FileInfoBuf {
  readonly bytes: Uint8Array<ArrayBuffer> = new Uint8Array(FileInfo.size);
  private readonly view = new DataView(this.bytes.buffer);
  /** Fills handle `fh` and the open-reply bits. */
  fill(fh: number, flags: number, opts: OpenReplyFlags): Uint8Array<ArrayBuffer> {
    this.bytes.fill(0);
    this.view.setInt32(FileInfo.flags, flags, true);
    let bits = 0;
    if (opts.keepCache) bits |= FileInfoBits.keepCache;
    if (opts.directIo) bits |= FileInfoBits.directIo;
    if (opts.cacheReaddir) bits |= FileInfoBits.cacheReaddir;
    this.view.setUint32(FileInfo.bits, bits, true);
    this.view.setBigUint64(FileInfo.fh, BigInt(fh), true);
    return this.bytes;
  }
}

/** A reusable `struct statvfs`. */
export class StatvfsBuf {
  readonly bytes: Uint8Array<ArrayBuffer> = new Uint8Array(Statvfs.size);
  private readonly view = new DataView(this.bytes.buffer);
  /** Fills the buffer with `s`. */
  fill(s: StatFs): Uint8Array<ArrayBuffer> {
    const v = this.view;
    const u = (at: number, n: number) =>
      v.setBigUint64(at, BigInt(Math.max(0, Math.trunc(n))), true);
    this.bytes.fill(0);
    u(Statvfs.bsize, s.bsize);
    u(Statvfs.frsize, s.frsize);
    u(Statvfs.blocks, s.blocks);
    u(Statvfs.bfree, s.bfree);
    u(Statvfs.bavail, s.bavail);
    u(Statvfs.files, s.files);
    u(Statvfs.ffree, s.ffree);
    u(Statvfs.favail, s.ffree);
    u(Statvfs.namemax, s.namemax);
    return this.bytes;
  }
}

/** Reads the `fh` of a `fuse_file_info` (0 when `fi` is NULL). */
export function readFh(fi: Deno.PointerValue): number {
  if (fi === null) return 0;
  return Number(new Deno.UnsafePointerView(fi).getBigUint64(FileInfo.fh));
}

/** Reads the bitfields word of a `fuse_file_info` ({@link FileInfoBits}; 0 when `fi` is NULL). */
export function readFileInfoBits(fi: Deno.PointerValue): number {
  if (fi === null) return 0;
  return new Deno.UnsafePointerView(fi).getUint32(FileInfo.bits);
}

/** Reads the `flags` of a `fuse_file_info` (0 when `fi` is NULL). */
export function readOpenFlags(fi: Deno.PointerValue): number {
  if (fi === null) return 0;
  return new Deno.UnsafePointerView(fi).getInt32(FileInfo.flags);
}
