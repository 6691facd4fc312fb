/**
 * The inode file, one per inode: `o/<sh>/<name>.m` (directories and hard-linked inodes), or the
 * entry file of the inode's only name (format 2: every other inode, see {@link RecordPlace}).
 * Its bytes (header, two record slots, content) are `format/inode_file.ts`; here is the I/O.
 *
 * The two slots let a record be replaced in place without ever being torn: the new version goes
 * into the slot not holding the current one, and the valid slot with the higher sequence
 * number wins. Regular files have fixed 4088-byte slots, so header and slots fill exactly 8 KiB and
 * their chunks start block-aligned after them; other inodes' slots
 * grow by rewriting the file.
 */
import { constants, linkSync, mkdirSync, renameSync } from "node:fs";
import {
  type FolderSettler,
  settleFile,
  settleFolder,
  settleMadeFolders,
} from "./backing_times.ts";
import {
  FolderGuard,
  NotAnObjectError,
  openRaw,
  readHead,
  SAFE_OPEN,
  writeAllSync,
} from "./object_io.ts";
import { sysClose, sysError, sysFdatasync, sysUnlink } from "../../ffi/sysio.ts";
import { createInPlace, writeFileAtomic, writeNewInPlace } from "./atomic_file.ts";
import { type InodeRecord, isDir, isRegular } from "./inode_record.ts";
import { decodeRecord, encodeRecord } from "./format/record.ts";
import type { StoreKeys } from "./keys.ts";
import { entryPath, type ObjectPaths, objectPaths } from "./format/paths.ts";
import { Trash } from "./trash.ts";
import { blobKey, openBlob, sealBlob } from "./sealed_blob.ts";
import {
  CorruptObjectError,
  ENTRY_RECORD_MAGIC,
  entryPlaceAd,
  OBJECT_RECORD_MAGIC,
  objectPlaceAd,
} from "./format/blob.ts";
import {
  contentBase,
  decodePlacedRecord,
  encodeHeader,
  encodePlacedRecord,
  fitsSlot,
  headBytes,
  neverWritten,
  parseHeader,
  recordSlotAt,
  REGULAR_SLOT,
  regularRecordFits,
  slotBlobs,
  slotImage,
  slotSizeFor,
} from "./format/inode_file.ts";
import { concat, DecodeError } from "../util/codec.ts";

// For `fs/file_data.ts`, which finds the chunks through this module.
export { contentBase };

/**
 * Where a record lives and what its slots are sealed for. An object place is
 * `o/<sh>/<name>.m`, found from the inode number. An entry place is the entry file of the
 * inode's only name, `<dir folder>/<entry>`: the slots are sealed for (parent, entry file name)
 * and carry the name, so one file is the name, the record and the content, and moving the file
 * to another name without rewriting it makes it fail to open.
 */
export interface RecordPlace {
  /** The file that holds header, slots and content. */
  path: string;
  /** The folder holding it (must be a real directory). */
  folder: string;
  /** Object places: the inode number the record must carry. */
  ino?: bigint;
  /** Entry places: the parent directory and the entry file name. */
  parent?: bigint;
  file?: string;
}

/** A loaded record, the slot (0 or 1) that holds it, and the file's slot size. */
export interface LoadedRecord {
  rec: InodeRecord;
  slot: 0 | 1;
  slotSize: number;
  /** Entry places: the name the record was sealed with. */
  name?: Uint8Array;
}

/** A record too large for the fixed slots of a regular file (too many extended attributes). */
export class RecordTooLargeError extends Error {}

/** A record or entry file exists but is damaged or forged; `path` names it for the log. */
export class DamagedObjectError extends Error {
  constructor(readonly path: string, reason: string) {
    super(`damaged object ${path}: ${reason}`);
  }
}

/**
 * An inode file that exists but was never written: empty, zeros where its header goes, or no
 * record slot ever filled. It is what a power cut leaves of a creation whose bytes had not reached
 * the disk yet (the file's name had): the inode never existed.
 */
export class UnwrittenObjectError extends DamagedObjectError {
  constructor(path: string) {
    super(path, "never written (a creation cut short by a power cut)");
  }
}

/** Inode records of one data dir. */
export class RecordStore {
  /** Checks, once each, that the folders objects go into are real directories. */
  readonly guard = new FolderGuard();

  /** Removed objects go to `trash`, which deletes them in the background. */
  constructor(
    readonly root: string,
    readonly keys: StoreKeys,
    readonly trash: Trash = new Trash(root),
  ) {}

  /** Whether folder `path` exists as a real directory; DamagedObjectError for a planted link. */
  checkFolder(path: string): boolean {
    try {
      return this.guard.check(path);
    } catch (e) {
      if (e instanceof NotAnObjectError) throw new DamagedObjectError(path, e.message);
      throw e;
    }
  }

  paths(ino: bigint): ObjectPaths {
    return objectPaths(this.root, this.keys.objectName(ino));
  }

  /** The object place of inode `ino`. */
  objectPlace(ino: bigint): RecordPlace {
    const p = this.paths(ino);
    return { path: p.record, folder: p.shard, ino };
  }

  /** The entry place of entry file `file` of directory `parent` (folder `folder`). */
  entryPlace(parent: bigint, folder: string, file: string): RecordPlace {
    return { path: entryPath(folder, file), folder, parent, file };
  }

  #seal(r: InodeRecord, place: RecordPlace, name?: Uint8Array): Promise<Uint8Array> {
    if (place.ino !== undefined) {
      return sealBlob(this.keys, OBJECT_RECORD_MAGIC, objectPlaceAd(r.ino), encodeRecord(r));
    }
    if (!name) throw new TypeError("an entry place needs the name");
    const pt = encodePlacedRecord(name, encodeRecord(r));
    return sealBlob(this.keys, ENTRY_RECORD_MAGIC, this.#entryAd(place), pt);
  }

  #entryAd(place: RecordPlace): Uint8Array {
    return entryPlaceAd(place.parent!, place.file!);
  }

  /** How many bytes of an inode file hold its header and slots, judging from its first bytes. */
  static headBytes(head: Uint8Array): number {
    return headBytes(head);
  }

  /**
   * Loads a record: the newer valid one of its two slots. `null` when it does not exist or was
   * never written (see {@link UnwrittenObjectError}), DamagedObjectError when neither slot opens.
   */
  async load(place: RecordPlace): Promise<LoadedRecord | null> {
    const { path, folder } = place;
    if (!this.checkFolder(folder)) return null;
    let file: Uint8Array | null;
    try {
      file = readHead(path, (head) => RecordStore.headBytes(head), contentBase(REGULAR_SLOT));
    } catch (e) {
      if (e instanceof NotAnObjectError) throw new DamagedObjectError(path, e.message);
      throw e;
    }
    if (!file || neverWritten(file)) return null;
    try {
      return await this.parse(file, place);
    } catch (e) {
      if (e instanceof UnwrittenObjectError) return null;
      throw e;
    }
  }

  /** The current record in the header and slots `file` read from `place`. */
  async parse(file: Uint8Array, place: RecordPlace): Promise<LoadedRecord> {
    const path = place.path;
    let slotSize: number;
    try {
      slotSize = parseHeader(file);
    } catch (e) {
      if (e instanceof CorruptObjectError) throw new DamagedObjectError(path, e.message);
      throw e;
    }
    // Everything needed from `file` is copied out before the first await: it may be a view of
    // a read buffer that the next read reuses (see readHeadOf's borrow).
    const slots = slotBlobs(file, slotSize);
    // Both slots are sealed with the same key: derived once.
    const [magic, ad] = place.ino !== undefined
      ? [OBJECT_RECORD_MAGIC, objectPlaceAd(place.ino)]
      : [ENTRY_RECORD_MAGIC, this.#entryAd(place)];
    const key = slots.length ? blobKey(this.keys, magic, ad) : undefined;
    let best: LoadedRecord | null = null;
    let why = "no valid slot";
    for (const { slot, blob } of slots) {
      try {
        if (blob instanceof CorruptObjectError) throw blob;
        let r: InodeRecord;
        let name: Uint8Array | undefined;
        if (place.ino !== undefined) {
          r = decodeRecord(await openBlob(this.keys, magic, ad, blob, key));
          if (r.ino !== place.ino) throw new CorruptObjectError("inode number mismatch");
        } else {
          const placed = decodePlacedRecord(await openBlob(this.keys, magic, ad, blob, key));
          name = placed.name;
          r = decodeRecord(placed.record);
          // Directories always live in object places (their entries point at them).
          if (isDir(r)) throw new CorruptObjectError("a directory record in an entry file");
        }
        if (!best || r.seq > best.rec.seq) best = { rec: r, slot, slotSize, name };
      } catch (e) {
        if (!(e instanceof CorruptObjectError || e instanceof DecodeError)) throw e;
        why = e.message; // a torn or damaged slot: the other one may still be good
      }
    }
    if (!best) {
      throw slots.length === 0 ? new UnwrittenObjectError(path) : new DamagedObjectError(path, why);
    }
    // The header is not sealed: a regular file's chunks start at a fixed place, so any other
    // slot size is damage (it would misplace every chunk).
    if (isRegular(best.rec) && slotSize !== REGULAR_SLOT) {
      throw new DamagedObjectError(path, `bad slot size ${slotSize} for a regular file`);
    }
    return best;
  }

  /** Whether a record fits the slots of its file (regular files' slots never grow). */
  fits(r: InodeRecord, slotSize: number): boolean {
    if (!isRegular(r)) return true;
    // Sealed size without sealing.
    return regularRecordFits(encodeRecord(r).length, this.keys.metaAead.nonceLength, slotSize);
  }

  // The bytes of a new inode file: header, and `r` sealed for `place` in slot 0.
  async #image(
    r: InodeRecord,
    place: RecordPlace,
    name?: Uint8Array,
  ): Promise<{ file: Uint8Array; slotSize: number }> {
    const blob = await this.#seal(r, place, name);
    const slotSize = isRegular(r) ? REGULAR_SLOT : slotSizeFor(blob.length);
    if (!fitsSlot(blob.length, slotSize)) throw new RecordTooLargeError("record too large");
    return { file: concat(encodeHeader(slotSize), slotImage(blob)), slotSize };
  }

  /**
   * Creates the inode file of a new inode at `place`, its record in slot 0; returns the slot
   * size. An entry place gets the file by rename (a name is never seen half-written), replacing
   * what is there (see {@link createEntry} for a name that holds nothing); `name` is the
   * entry's name.
   */
  async create(
    r: InodeRecord,
    place: RecordPlace,
    opts: { durable?: boolean; name?: Uint8Array } = {},
  ): Promise<number> {
    const durable = opts.durable ?? false;
    const { file, slotSize } = await this.#image(r, place, opts.name);
    if (place.ino === undefined) {
      this.checkFolder(place.folder);
      await writeFileAtomic(place.path, file, durable);
      return slotSize;
    }
    const p = { shard: place.folder, record: place.path };
    if (!this.checkFolder(p.shard)) {
      settleMadeFolders(p.shard, mkdirSync(p.shard, { recursive: true, mode: 0o700 }));
    }
    // Written in place, not via a temporary file: until an entry points at this inode a torn
    // record is an unreachable orphan, and the entry is written only after this returns.
    const fd = openRaw(
      p.record,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | SAFE_OPEN,
      0o600,
    );
    try {
      writeAllSync(fd, file, 0, p.record);
      settleFile(fd);
      if (durable) await sysFdatasync(fd, p.record);
    } finally {
      sysClose(fd);
    }
    // Once for a burst of new directories (FolderSettler); a durable creation (the root, fsck's
    // repairs: stores nobody flushes) settles it now.
    if (durable) settleFolder(p.shard);
    else this.folderTimes.later(p.shard);
    return slotSize;
  }

  /**
   * Creates the inode file of a new inode at entry place `place` (`name` is the entry's name)
   * in place, under its final name with `O_EXCL`: that one `open(2)` is also the check that the
   * name holds no file. Null, with nothing written, when a file is already there (a name, or
   * what a crash left of one) or when the file would not fit one page: the caller then checks
   * the name and replaces with {@link create}.
   *
   * Never torn: the header and slot 0 are one `pwrite` within the first page of a new file, which
   * a killed process leaves whole or not at all, and a power cut (ext4 orders a new file's data
   * before its size) leaves empty or whole. A file empty, zeroed or without a record reads as
   * never written: the name is absent (entryNode, `UnwrittenObjectError`), and fsck removes it.
   *
   * With `keepOpen` the file stays open for its content (a creation that opens it): `fd` is then
   * the caller's, to close after settling the file's times (see {@link createInPlace}).
   */
  async createEntry(
    r: InodeRecord,
    place: RecordPlace,
    name: Uint8Array,
    keepOpen = false,
  ): Promise<{ slotSize: number; fd: number | null; size: number } | null> {
    const { file, slotSize } = await this.#image(r, place, name);
    this.checkFolder(place.folder);
    if (!keepOpen) {
      return writeNewInPlace(place.path, file, this.folderTimes)
        ? { slotSize, fd: null, size: file.length }
        : null;
    }
    const fd = createInPlace(place.path, file, this.folderTimes);
    return fd === null ? null : { slotSize, fd, size: file.length };
  }

  /**
   * Folders changed by creations and removals, whose times go back to the epoch shortly: one
   * settler for the store, the trash's (see FolderSettler).
   */
  get folderTimes(): FolderSettler {
    return this.trash.folderTimes;
  }

  /** Settles the times of folders changed by creations and removals now (at unmount). */
  settleFolders(): void {
    this.folderTimes.flush();
  }

  /**
   * Writes a new version of a record into `slot` (the one not holding the current version), in
   * place: a torn write leaves the other slot, so the record reads as before or after, never
   * torn, and no file is created. A record that outgrew its slots is rewritten whole.
   */
  async update(
    r: InodeRecord,
    slot: 0 | 1,
    slotSize: number,
    place: RecordPlace,
    opts: { durable?: boolean; name?: Uint8Array } = {},
  ): Promise<number> {
    const durable = opts.durable ?? false;
    const p = { shard: place.folder, record: place.path };
    const blob = await this.#seal(r, place, opts.name);
    this.checkFolder(p.shard);
    if (fitsSlot(blob.length, slotSize)) {
      const fd = openRaw(p.record, constants.O_RDWR | SAFE_OPEN);
      try {
        // No fstat needed: O_NOFOLLOW refuses a symlink, O_RDWR a directory, and a write to a
        // FIFO or device placed here fails or lands nowhere that matters.
        const img = slotImage(blob);
        writeAllSync(fd, img, recordSlotAt(slot, slotSize), p.record);
        settleFile(fd);
        if (durable) await sysFdatasync(fd, p.record);
        return slotSize;
      } finally {
        sysClose(fd);
      }
    }
    // Regular files' slots cannot grow: their chunks follow.
    if (isRegular(r)) throw new RecordTooLargeError(`record of ${p.record} exceeds its slot`);
    // Outgrown: a new file with bigger slots replaces the old one atomically.
    const size = slotSizeFor(blob.length);
    const file = new Uint8Array(contentBase(size));
    file.set(encodeHeader(size), 0);
    file.set(slotImage(blob), recordSlotAt(slot, size));
    // Always durable: a replacement by rename whose bytes a power cut lost (on a filesystem
    // that does not flush before such a rename, unlike ext4) would lose the record.
    await writeFileAtomic(p.record, file, true);
    return size;
  }

  /**
   * Moves the inode file at entry place `from` to place `to` (another name, or the object
   * place): the record sealed for `to` goes into the free `slot` first (it does not open at
   * `from`, so the file still reads as before there), then the file is renamed (or, to the
   * object place, hard-linked) there, where only that slot opens. Either step may be the last
   * before a crash: the inode reads as before or after. A rename replaces whatever `to` held.
   * Returns the slot now current and the slot size (a non-regular record that outgrew its
   * slots is first rewritten larger in place).
   */
  async relocate(
    r: InodeRecord,
    slot: 0 | 1,
    slotSize: number,
    from: RecordPlace,
    fromName: Uint8Array,
    to: RecordPlace,
    toName: Uint8Array | undefined,
    how: "rename" | "link",
    onMoved: () => void,
  ): Promise<{ slot: 0 | 1; slotSize: number }> {
    let size = slotSize;
    const blob = await this.#seal(r, to, toName);
    if (!fitsSlot(blob.length, size)) {
      if (isRegular(r)) throw new RecordTooLargeError(`record of ${from.path} exceeds its slot`);
      // Grow the slots at the old place first (atomic rewrite, still valid there).
      size = await this.update(r, slot, slotSize, from, { name: fromName });
      if (!fitsSlot(blob.length, size)) throw new RecordTooLargeError("record too large");
      slot = slot === 0 ? 1 : 0;
    }
    this.checkFolder(from.folder);
    const fd = openRaw(from.path, constants.O_RDWR | SAFE_OPEN);
    try {
      writeAllSync(fd, slotImage(blob), recordSlotAt(slot, size), from.path);
      settleFile(fd);
      // The slot must be on disk before the rename or link is: otherwise a power cut could
      // keep the move and lose the slot, and the file would open nowhere.
      await sysFdatasync(fd, from.path);
    } finally {
      sysClose(fd);
    }
    if (!this.checkFolder(to.folder)) {
      settleMadeFolders(to.folder, mkdirSync(to.folder, { recursive: true, mode: 0o700 }));
    }
    if (how === "rename") {
      renameSync(from.path, to.path);
      settleFolder(from.folder);
      settleFolder(to.folder);
      onMoved();
      return { slot, slotSize: size };
    }
    try {
      linkSync(from.path, to.path);
    } catch (e) {
      if ((e as { code?: string }).code !== "EEXIST") throw e;
      // Debris of an earlier conversion interrupted by a crash: nothing points at it.
      const r = sysUnlink(to.path);
      if (r < 0) throw sysError(r, "unlink", to.path);
      linkSync(from.path, to.path);
    }
    settleFolder(to.folder);
    onMoved();
    return { slot, slotSize: size };
  }

  /** Unlinks the object place file of `ino` (a twin left by a conversion that was undone). */
  dropObject(ino: bigint): void {
    const p = this.paths(ino);
    sysUnlink(p.record);
    settleFolder(p.shard);
  }

  /** Deletes every object of an inode (record last, so a crash leaves nothing half-deleted). */
  remove(ino: bigint, isDirectory: boolean): void {
    const p = this.paths(ino);
    if (!this.checkFolder(p.shard)) return;
    if (isDirectory) {
      this.guard.forget(p.entries);
      this.trash.discard(p.entries);
    }
    this.trash.discard(p.record);
  }
}
