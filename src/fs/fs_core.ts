/**
 * What every part of `EncryptedFs` shares: the stores of one open data dir, the inode table and
 * file data over them, and the small rules all operations follow (errors mapped to errno, damage
 * reported once per object, writes refused when read-only or closed, attributes as stat reports
 * them, when a record change is written).
 * @module
 */
import type { KeyFileHeader } from "../store/keyfile.ts";
import { type InodeRecord, isDir, isRegular, newRecord } from "../store/inode_record.ts";
import type { StoreKeys } from "../store/keys.ts";
import { DirStore } from "../store/dir_store.ts";
import { DamagedObjectError, RecordStore } from "../store/record_store.ts";
import { Trash } from "../store/trash.ts";
import { randomBytes } from "../crypto/random.ts";
import { fromIoError, FsError, fsError } from "./errors.ts";
import { FileData } from "./file_data.ts";
import { maxPlaintextSize, probeBackingMaxSize } from "../store/backing_limit.ts";
import { type Inode, InodeTable } from "./inode_table.ts";
import { type Attr, type Caller, NAME_MAX, ROOT_INO, type TimeSpec } from "./types.ts";

/** What the parts of `EncryptedFs` need from its options. */
export interface CoreOptions {
  readOnly?: boolean;
  /** Called once per damaged object (path relative to the data dir, and reason). */
  onDamaged?: (path: string, reason: string) => void;
  /** Called once per file with a chunk read from its older slot (format 3). */
  onOlderChunk?: (path: string, chunk: number) => void;
}

// Answers on hot paths (every create starts with a failed lookup; the kernel asks for
// security.capability on every write): one shared instance each, no stack capture per miss.
export const NO_ENTRY = new FsError("ENOENT");
export const NO_XATTR = new FsError("ENODATA");

/** Current time in nanoseconds since the epoch (microsecond resolution). */
export function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

/** A time to set, resolved against `now`. */
export function timeOf(t: TimeSpec, now: bigint): bigint {
  if (t === "now") return now;
  // Beyond what a record's 64 bits of nanoseconds hold (before 1678, after 2262): clamped, as
  // ext4 clamps times beyond its own range, rather than wrapped by the encoding.
  return t < I64_MIN ? I64_MIN : t > I64_MAX ? I64_MAX : t;
}

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** A fresh random inode number (never the root's). */
export function randomIno(): bigint {
  for (;;) {
    const v = new DataView(randomBytes(8).buffer).getBigUint64(0, true);
    if (v > ROOT_INO) return v;
  }
}

/** Rejects a name no new directory entry may have. */
export function checkName(name: Uint8Array): void {
  if (name.length === 0) throw fsError("ENOENT", "empty name");
  if (name.length > NAME_MAX) throw fsError("ENAMETOOLONG");
  if (name.includes(0x2f) || name.includes(0)) throw fsError("EINVAL", "name contains / or NUL");
  if (name.length <= 2 && name.every((b) => b === 0x2e)) throw fsError("EEXIST", "dot entry");
}

/** The stores of one open data dir and the rules every operation on them follows. */
export class FsCore {
  readonly readOnly: boolean;
  readonly root: string;
  readonly keys: StoreKeys;
  readonly records: RecordStore;
  readonly trash: Trash;
  readonly dirs: DirStore;
  readonly table: InodeTable;
  readonly data: FileData;
  /** Format 2: an inode with one name (not a directory) lives in that name's entry file. */
  readonly inline: boolean;
  /** Set once by `EncryptedFs.close`: every operation fails with EIO after. */
  closed = false;
  readonly #reported = new Set<string>();
  readonly #onDamaged?: (path: string, reason: string) => void;

  /**
   * `syncfs` syncs the data dir's file system; `onShrunk` learns of files whose shrink left
   * chunk slots to drop once their records are durable (the flusher's job).
   */
  constructor(
    root: string,
    keys: StoreKeys,
    header: KeyFileHeader,
    opts: CoreOptions,
    syncfs: () => Promise<void>,
    onShrunk: (node: Inode) => void,
  ) {
    this.root = root;
    this.keys = keys;
    this.readOnly = opts.readOnly ?? false;
    this.#onDamaged = opts.onDamaged;
    this.trash = new Trash(root);
    this.records = new RecordStore(root, keys, this.trash);
    if (!this.readOnly) this.trash.sweep();
    this.dirs = new DirStore(keys, this.records);
    this.inline = header.version >= 2;
    const report = (e: DamagedObjectError) => this.report(e);
    const table = new InodeTable(this.records, report, syncfs);
    this.table = table;
    this.data = new FileData(
      keys,
      header.chunkSize,
      (node) => {
        this.records.checkFolder(table.place(node).folder);
      },
      (node) => table.path(node),
      report,
      !this.readOnly,
      header.version >= 3,
      table.clock,
      onShrunk,
      (path, chunk) => {
        const rel = this.#relative(path);
        if (this.#reported.has(`older:${rel}`)) return;
        this.#reported.add(`older:${rel}`);
        opts.onOlderChunk?.(rel, chunk);
      },
    );
    if (!this.readOnly) {
      const layout = {
        chunkSize: header.chunkSize,
        nonceLength: keys.aead.nonceLength,
        paired: header.version >= 3,
      };
      this.data.maxFileSize = maxPlaintextSize(layout, probeBackingMaxSize(root));
    }
  }

  /** A new record for inode `ino`, with a fresh nonce for its content. */
  newRecord(ino: bigint, mode: number, caller: Caller, now: bigint): InodeRecord {
    return newRecord(ino, mode, caller, now, randomBytes(16));
  }

  #relative(path: string): string {
    return path.startsWith(this.root) ? path.slice(this.root.length + 1) : path;
  }

  /** Reports a damaged object to `onDamaged`, once per object. */
  report(e: DamagedObjectError): void {
    const rel = this.#relative(e.path);
    if (this.#reported.has(rel)) return;
    this.#reported.add(rel);
    this.#onDamaged?.(rel, e.message);
  }

  /** Throws unless changes may be made (EIO when closed, EROFS when read-only). */
  writable(): void {
    if (this.closed) throw fsError("EIO", "filesystem is closed");
    if (this.readOnly) throw fsError("EROFS");
  }

  /** Runs a store operation; I/O errors become errno errors (ENOSPC stays ENOSPC). */
  async io<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw fsError("EIO", "filesystem is closed");
    try {
      return await fn();
    } catch (e) {
      if (e instanceof FsError) throw e;
      if (e instanceof DamagedObjectError) {
        this.report(e);
        throw fsError("EIO", e.message, { cause: e });
      }
      throw fromIoError(e, what);
    }
  }

  /** The attributes of `node`, as stat(2) reports them. */
  attr(node: Inode): Attr {
    const r = node.rec;
    const reg = isRegular(r);
    return {
      ino: r.ino,
      mode: r.mode,
      nlink: isDir(r) && r.nlink > 0 ? 2 + r.subdirs : r.nlink,
      uid: r.uid,
      gid: r.gid,
      rdev: r.rdev,
      size: r.size,
      blocks: reg ? this.data.blocks(node) : Math.ceil(r.size / 512),
      atimeNs: r.atimeNs,
      mtimeNs: r.mtimeNs,
      ctimeNs: r.ctimeNs,
    };
  }

  /** Directory `ino` (ENOTDIR when it is something else). */
  async dir(ino: bigint): Promise<Inode> {
    const node = await this.table.get(ino);
    if (!isDir(node.rec)) throw fsError("ENOTDIR");
    return node;
  }

  /** The folder holding the entry files of directory `ino`. */
  folder(ino: bigint): string {
    return this.records.paths(ino).entries;
  }

  /**
   * Persists a record change. A record that also covers chunks not yet synced, or of a file
   * whose last move is not yet durable (InodeTable.writableNow), would need a syncfs first:
   * unless `now` (ordering matters, as before dropping chunks), it is left to the background
   * flush, which syncs once for every such record (tar sets the times of each file it just
   * wrote: one syncfs per file would be ruinous).
   */
  async save(node: Inode, now = false): Promise<void> {
    node.durability.changed();
    if (!now && !this.table.writableNow(node)) return;
    await this.table.save(node);
  }

  /**
   * A directory's own record (times, subdirectory count) is written by the background flush:
   * untarring 1000 files into one directory then costs one record write, not 1000. Its
   * entries, which are what a crash must not lose, are written at once.
   */
  touchDir(dir: Inode, now: bigint): void {
    dir.rec.mtimeNs = now;
    dir.rec.ctimeNs = now;
    dir.durability.changed();
  }
}
