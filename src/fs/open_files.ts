/**
 * Open files: open, read, write, fallocate, flush, fsync and release of regular files through
 * their handles. A record a write grew waits for the background flush; `fsync` makes it (and the
 * names changed before) durable at once (`Flusher.durable`); the last release of an unlinked
 * inode deletes it.
 * @module
 */
import { isDir, isRegular } from "../store/inode_record.ts";
import type { Lease } from "../util/lease.ts";
import { type Attributes, clearSetIdBits, hasClearableSetIds } from "./attributes.ts";
import { checkOffset, fsError } from "./errors.ts";
import type { Flusher } from "./flusher.ts";
import { type FsCore, nowNs } from "./fs_core.ts";
import type { HandleTable } from "./handles.ts";
import type { Inode } from "./inode_table.ts";
import type { Namespace } from "./namespace.ts";
import type { SetIdOptions } from "./types.ts";

const O_ACCMODE = 0o3;
const O_TRUNC = 0o1000;

/** The operations on open regular files. */
export class OpenFiles {
  readonly #core: FsCore;
  readonly #handles: HandleTable;
  readonly #flusher: Flusher;
  readonly #attrs: Attributes;
  readonly #names: Namespace;

  constructor(
    core: FsCore,
    handles: HandleTable,
    flusher: Flusher,
    attrs: Attributes,
    names: Namespace,
  ) {
    this.#core = core;
    this.#handles = handles;
    this.#flusher = flusher;
    this.#attrs = attrs;
    this.#names = names;
  }

  /**
   * open(2) of inode `ino`: a new handle (O_TRUNC empties the file, and with `clearSetIds`
   * clears its set-ID bits).
   */
  async open(ino: bigint, flags: number, opts: SetIdOptions = {}): Promise<number> {
    const core = this.#core;
    const node = await core.table.get(ino);
    if (isDir(node.rec)) throw fsError("EISDIR");
    const wantsWrite = (flags & O_ACCMODE) !== 0;
    if (wantsWrite || flags & O_TRUNC) core.writable();
    const fh = this.#handles.openFile(node);
    const clear = (opts.clearSetIds ?? false) && hasClearableSetIds(node.rec);
    if (flags & O_TRUNC && isRegular(node.rec) && (node.rec.size > 0 || clear)) {
      try {
        await core.io("setattr", () => this.#attrs.setattr(ino, { size: 0, clearSetIds: clear }));
        if (clear) opts.onCleared?.();
      } catch (e) {
        await core.io("release", () => this.release(ino, fh));
        throw e;
      }
    }
    return fh;
  }

  /** Reads through handle `fh`: a copy of the bytes. */
  async read(ino: bigint, fh: number, offset: number, length: number): Promise<Uint8Array> {
    checkOffset(offset);
    checkOffset(length);
    return this.#core.data.read(await this.#readable(ino, fh), offset, length);
  }

  /** Reads through handle `fh`: lent views of decrypted chunks (`EncryptedFs.readPieces`). */
  async readPieces(ino: bigint, fh: number, offset: number, length: number): Promise<Lease> {
    checkOffset(offset);
    checkOffset(length);
    return this.#core.data.readPieces(await this.#readable(ino, fh), offset, length);
  }

  // The regular file behind an open handle, for reading.
  async #readable(ino: bigint, fh: number): Promise<Inode> {
    this.#handles.checkFile(ino, fh);
    const node = await this.#core.table.get(ino);
    if (!isRegular(node.rec)) throw fsError("EINVAL");
    return node;
  }

  /**
   * Writes `data` at `offset` through handle `fh` (all of it, or fails), clearing the file's
   * set-ID bits unless `opts.clearSetIds` is false.
   */
  async write(
    ino: bigint,
    fh: number,
    offset: number,
    data: Uint8Array,
    opts: SetIdOptions = {},
  ): Promise<void> {
    const core = this.#core;
    core.writable();
    this.#handles.checkFile(ino, fh);
    checkOffset(offset);
    const node = await core.table.get(ino);
    if (!isRegular(node.rec)) throw fsError("EINVAL");
    await core.data.write(node, offset, data);
    const now = nowNs();
    node.rec.mtimeNs = now;
    node.rec.ctimeNs = now;
    if ((opts.clearSetIds ?? true) && clearSetIdBits(node.rec)) opts.onCleared?.();
    node.durability.changed();
  }

  /**
   * fallocate(2), mode 0 only: grows the file to `offset + length`; with `opts.clearSetIds` (a
   * caller without CAP_FSETID) the file's set-ID bits are cleared, as by a write.
   */
  async fallocate(
    ino: bigint,
    fh: number,
    offset: number,
    length: number,
    mode: number,
    opts: SetIdOptions = {},
  ): Promise<void> {
    const core = this.#core;
    core.writable();
    this.#handles.checkFile(ino, fh);
    if (mode !== 0) throw fsError("EOPNOTSUPP");
    checkOffset(offset);
    checkOffset(length);
    if (length === 0) throw fsError("EINVAL");
    const node = await core.table.get(ino);
    if (offset + length > node.rec.size) {
      await core.data.truncate(node, offset + length, () => core.save(node));
    }
    if (opts.clearSetIds && clearSetIdBits(node.rec)) {
      node.rec.ctimeNs = nowNs();
      if (node.rec.nlink > 0) await core.save(node);
      opts.onCleared?.();
    }
  }

  /** close(2) of one descriptor: writes the record when that needs no syncfs. */
  async flush(ino: bigint, fh: number): Promise<void> {
    this.#handles.checkFile(ino, fh);
    const table = this.#core.table;
    const node = table.peek(ino);
    if (node?.durability.dirty && table.writableNow(node)) await table.save(node);
  }

  /** fsync(2): the file's data and record durable, with every name change made before. */
  async fsync(ino: bigint, fh: number, dataOnly: boolean): Promise<void> {
    this.#handles.checkFile(ino, fh);
    const table = this.#core.table;
    const node = await table.get(ino);
    const d = node.durability;
    const growth = d.growth;
    // Chunks written through a content file closed since are synced by a syncfs.
    if (node.content) await node.content.sync(dataOnly);
    else if (growth !== d.syncedGrowth) await table.syncData();
    d.growthDurable(growth);
    // Size and holes live in the record: it must be durable for the data to be reachable.
    await this.#flusher.durable(node, d.dirty || !dataOnly);
  }

  /** The last close of handle `fh`: the content file closes with the inode's last handle. */
  async release(ino: bigint, fh: number): Promise<void> {
    if (!this.#handles.take(ino, fh)) return;
    const core = this.#core;
    const node = core.table.peek(ino);
    if (!node) return;
    node.opens--;
    if (node.opens > 0) return;
    // A record that grew waits for the background flush (one syncfs for many files).
    node.dropReadAhead();
    if (node.durability.dirty && node.rec.nlink > 0 && core.table.writableNow(node)) {
      await core.table.save(node);
    }
    await core.data.closeContent(node);
    this.#names.reapLater(node);
  }
}
