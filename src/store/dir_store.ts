/**
 * Directory entries: one file per name in the directory's folder (`o/<sh>/<name>.d/<entry>`),
 * named by a keyed hash of (parent, name). Looking up a name reads exactly one file; listing
 * reads the folder. An entry file is either a pointer (a small sealed blob: the name, the
 * child's inode number and type, bound to the parent and the entry's file name) or, for an
 * inode with one name only (not a directory), the inode file itself (see record_store.ts), so
 * such a file is one backing file and one read. The bytes are `format/entry.ts` (pointers) and
 * `format/inode_file.ts`; here is the I/O.
 */
import { mkdirSync } from "node:fs";
import { sysAdvise, sysClose, sysPrefetch } from "../../ffi/sysio.ts";
import { errorCode } from "../../ffi/sys_error.ts";
import { listFolder, NotAnObjectError, openObject, readHeadOf } from "./object_io.ts";
import { writeFileAtomic, writeNewInPlace } from "./atomic_file.ts";
import { folderOf, settleMadeFolders } from "./backing_times.ts";
import type { StoreKeys } from "./keys.ts";
import {
  DamagedObjectError,
  type LoadedRecord,
  RecordStore,
  UnwrittenObjectError,
} from "./record_store.ts";
import { S_IFMT } from "./posix.ts";
import { openBlob, sealBlob } from "./sealed_blob.ts";
import { CorruptObjectError, entryPlaceAd, POINTER_MAGIC } from "./format/blob.ts";
import { decodePointer, encodePointer, MAX_ENTRY_BYTES } from "./format/entry.ts";
import { contentBase, isInodeFile, neverWritten, REGULAR_SLOT } from "./format/inode_file.ts";
import { entryPath, isTmpName } from "./format/paths.ts";
import { DecodeError } from "../util/codec.ts";
import { bytesEqual } from "../util/bytes.ts";

/** What an entry points at. */
export interface EntryTarget {
  ino: bigint;
  /** Type bits (S_IFDIR …). */
  type: number;
}

/** One listed entry. */
export interface StoredEntry extends EntryTarget {
  name: Uint8Array;
  /** The entry file's name. */
  file: string;
  /** Set when the entry file is the inode file of its only name: the record in it. */
  inline?: LoadedRecord;
}

/**
 * Bytes read first from an entry file: a pointer entry, or an inode file's header and slots
 * (8 KiB for a regular file).
 */
const HEAD_READ = contentBase(REGULAR_SLOT);
/** Entry files a listing opens at once (each batch's reads are issued together). */
const READ_BATCH = 128;

/** The entries of every directory of one data dir. */
export class DirStore {
  constructor(readonly keys: StoreKeys, readonly records: RecordStore) {}

  checkFolder(path: string): boolean {
    return this.records.checkFolder(path);
  }

  #ad(dir: bigint, file: string): Uint8Array {
    return entryPlaceAd(dir, file);
  }

  /** Creates the (empty) entry folder of a new directory. */
  createFolder(folder: string): void {
    try {
      // Its shard folder usually exists: one mkdir, and the two folders' times set back with
      // the burst (FolderSettler), instead of a stat of every level and three utimensat.
      mkdirSync(folder, { mode: 0o700 });
    } catch (e) {
      if (errorCode(e) !== "ENOENT") throw e;
      settleMadeFolders(folder, mkdirSync(folder, { recursive: true, mode: 0o700 }));
      return;
    }
    this.records.folderTimes.later(folderOf(folder));
    this.records.folderTimes.later(folder);
  }

  /** The entry `name` of directory `dir` (its entry file is `file`, when known), or null. */
  async get(
    dir: bigint,
    folder: string,
    name: Uint8Array,
    file = this.keys.entryName(dir, name),
  ): Promise<StoredEntry | null> {
    if (!this.checkFolder(folder)) return null;
    const blob = this.#read(entryPath(folder, file));
    if (!blob) return null;
    let entry: StoredEntry;
    try {
      entry = await this.#open(dir, folder, file, blob);
    } catch (e) {
      if (e instanceof UnwrittenObjectError) return null;
      throw e;
    }
    if (!bytesEqual(entry.name, name)) {
      throw new DamagedObjectError(entryPath(folder, file), "entry holds another name");
    }
    return entry;
  }

  /**
   * Writes the pointer entry of a name that holds nothing (checked under the directory's lock)
   * in place (`writeNewInPlace`: whole or empty after a crash, and an empty entry file names
   * nothing, see #head). A file already there (what a crash left) is replaced by {@link put}.
   */
  async putNew(dir: bigint, folder: string, name: Uint8Array, target: EntryTarget): Promise<void> {
    const { path, blob } = await this.#pointer(dir, folder, name, target);
    if (!writeNewInPlace(path, blob, this.records.folderTimes)) {
      await writeFileAtomic(path, blob, false);
    }
  }

  /** Writes (or replaces) entry `name` atomically. */
  async put(dir: bigint, folder: string, name: Uint8Array, target: EntryTarget): Promise<void> {
    const { path, blob } = await this.#pointer(dir, folder, name, target);
    await writeFileAtomic(path, blob, false);
  }

  // The entry file of a pointer entry: its path (its folder checked) and its sealed bytes.
  async #pointer(dir: bigint, folder: string, name: Uint8Array, target: EntryTarget) {
    const file = this.keys.entryName(dir, name);
    const pt = encodePointer({ ino: target.ino, type: target.type, name });
    const blob = await sealBlob(this.keys, POINTER_MAGIC, this.#ad(dir, file), pt);
    this.checkFolder(folder);
    return { path: entryPath(folder, file), blob };
  }

  /** Deletes entry `name`. */
  remove(dir: bigint, folder: string, name: Uint8Array): void {
    this.records.trash.discard(entryPath(folder, this.keys.entryName(dir, name)));
  }

  /** The entry file names of a directory's folder (one directory read, nothing decrypted). */
  async names(folder: string): Promise<string[]> {
    if (!this.checkFolder(folder)) return [];
    return ((await listFolder(folder)) ?? []).filter((f) => !isTmpName(f));
  }

  /**
   * Opens the entries stored under `files` (from {@link names}); null for one removed since.
   * A damaged entry is reported through `onDamaged` and is null too, so one bad file never
   * hides the rest of the directory. Yields to the event loop every few hundred entries.
   */
  async read(
    dir: bigint,
    folder: string,
    files: string[],
    onDamaged: (e: DamagedObjectError) => void,
  ): Promise<(StoredEntry | null)[]> {
    const out: (StoredEntry | null)[] = [];
    for (let b = 0; b < files.length; b += READ_BATCH) {
      if (b > 0) await new Promise((r) => setTimeout(r, 0));
      // Open the whole batch and ask for every head at once: a cold listing then has all its
      // reads in flight together instead of one disk round trip per entry.
      const batch = files.slice(b, b + READ_BATCH);
      const opened = batch.map((f) => {
        try {
          return this.#openEntry(entryPath(folder, f));
        } catch (e) {
          return e;
        }
      });
      for (const fd of opened) if (typeof fd === "number") sysAdvise(fd, HEAD_READ);
      try {
        for (let k = 0; k < batch.length; k++) {
          try {
            const fd = opened[k];
            if (fd !== null && typeof fd !== "number") throw fd;
            const blob = fd === null ? null : this.#head(fd, entryPath(folder, batch[k]));
            // The associated data binds parent and file name: no need to re-hash the name.
            out.push(blob ? await this.#open(dir, folder, batch[k], blob) : null);
          } catch (e) {
            if (!(e instanceof DamagedObjectError)) throw e;
            if (!(e instanceof UnwrittenObjectError)) onDamaged(e);
            out.push(null);
          }
        }
      } finally {
        for (const fd of opened) if (typeof fd === "number") sysClose(fd);
      }
    }
    return out;
  }

  /**
   * Starts reading up to `max` entry files of a folder into the page cache (see `sysPrefetch`),
   * in batches that yield to the event loop.
   */
  async prefetch(folder: string, max: number): Promise<void> {
    const files = (await this.names(folder)).slice(0, max);
    for (let i = 0; i < files.length; i += 256) {
      sysPrefetch(files.slice(i, i + 256).map((f) => entryPath(folder, f)), HEAD_READ);
      await new Promise((r) => setTimeout(r, 0));
    }
  }

  /** Whether the folder holds no entry (temporary debris aside). */
  async isEmpty(folder: string): Promise<boolean> {
    // Reads only until the first real entry, however large the folder.
    const real = (f: string) => !isTmpName(f);
    return !((await listFolder(folder, { enough: real })) ?? []).some(real);
  }

  // The entry file at `path`: its bytes (a pointer, or an inode file's header and slots), or
  // null when it does not exist. A view of a shared read buffer: hand it to #open at once.
  #read(path: string): Uint8Array | null {
    const fd = this.#openEntry(path);
    if (fd === null) return null;
    try {
      return this.#head(fd, path);
    } finally {
      sysClose(fd);
    }
  }

  #openEntry(path: string): number | null {
    try {
      return openObject(path);
    } catch (e) {
      if (e instanceof NotAnObjectError) throw new DamagedObjectError(path, e.message);
      throw e;
    }
  }

  #head(fd: number, path: string): Uint8Array | null {
    let head: Uint8Array;
    try {
      head = readHeadOf(
        fd,
        path,
        (head) => {
          if (isInodeFile(head)) return RecordStore.headBytes(head);
          // Zeros where the magic goes, whatever the size: see below.
          if (neverWritten(head)) return Math.min(head.length, 4);
          if (head.length > MAX_ENTRY_BYTES) {
            throw new NotAnObjectError(`${path} is too large for an entry`);
          }
          return head.length;
        },
        HEAD_READ,
        true,
      );
    } catch (e) {
      if (e instanceof NotAnObjectError) throw new DamagedObjectError(path, e.message);
      throw e;
    }
    // Empty, or zeros where the magic goes (a file of any size whose first block never reached
    // the disk): a creation cut short by a power loss (the file was renamed into place but its
    // bytes were not written). The name never existed.
    return neverWritten(head) ? null : head;
  }

  async #open(dir: bigint, folder: string, file: string, blob: Uint8Array): Promise<StoredEntry> {
    if (isInodeFile(blob)) {
      const inline = await this.records.parse(blob, this.records.entryPlace(dir, folder, file));
      const r = inline.rec;
      return { ino: r.ino, type: r.mode & S_IFMT, name: inline.name!, file, inline };
    }
    try {
      // A copy: openBlob reads the blob after an await, and `blob` may be a borrowed view.
      const sealed = blob.slice();
      const pt = await openBlob(this.keys, POINTER_MAGIC, this.#ad(dir, file), sealed);
      return { ...decodePointer(pt), file };
    } catch (e) {
      if (e instanceof CorruptObjectError || e instanceof DecodeError) {
        throw new DamagedObjectError(entryPath(folder, file), e.message);
      }
      throw e;
    }
  }
}
