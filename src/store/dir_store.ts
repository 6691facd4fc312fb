/**
 * Directory entries: one small sealed file per name in the directory's folder
 * (`o/<sh>/<name>.d/<entry>`), named by a keyed hash of (parent, name). Looking up a name reads
 * exactly one file; listing reads the folder. The sealed entry holds the name, the child's
 * inode number and its type, bound to the parent and the entry's file name.
 */
import { readdir } from "node:fs/promises";
import { mkdirSync, opendirSync, unlinkSync } from "node:fs";
import { NotAnObjectError, readObject } from "./object_io.ts";
import { TMP_MARK, writeFileAtomic } from "./atomic_file.ts";
import type { StoreKeys } from "./keys.ts";
import { DamagedObjectError } from "./record_store.ts";
import { CorruptObjectError, openBlob, sealBlob } from "./sealed_blob.ts";
import { concat, DecodeError, Reader, u64le, Writer } from "../util/codec.ts";
import { bytesEqual } from "../util/bytes.ts";

const MAGIC = new TextEncoder().encode("RNCE");
const enc = new TextEncoder();
/** Entries are padded to a multiple of this many bytes: name lengths leak only as a bucket. */
const ENTRY_QUANTUM = 64;
/** Largest sealed entry: a 255-byte name and fixed fields. */
const MAX_ENTRY_BYTES = 4096;

/** What an entry points at. */
export interface EntryTarget {
  ino: bigint;
  /** Type bits (S_IFDIR …). */
  type: number;
}

/** One listed entry. */
export interface StoredEntry extends EntryTarget {
  name: Uint8Array;
}

/** The entries of every directory of one data dir. */
export class DirStore {
  constructor(
    readonly keys: StoreKeys,
    readonly checkFolder: (path: string) => Promise<boolean>,
  ) {}

  #ad(dir: bigint, file: string): Uint8Array {
    return concat(u64le(dir), enc.encode(file));
  }

  /** Creates the (empty) entry folder of a new directory. */
  createFolder(folder: string): Promise<void> {
    mkdirSync(folder, { recursive: true });
    return Promise.resolve();
  }

  /** The entry `name` of directory `dir`, or null. */
  async get(dir: bigint, folder: string, name: Uint8Array): Promise<EntryTarget | null> {
    const file = this.keys.entryName(dir, name);
    if (!(await this.checkFolder(folder))) return null;
    const blob = await this.#read(`${folder}/${file}`);
    if (!blob) return null;
    const entry = await this.#open(dir, folder, file, blob);
    if (!bytesEqual(entry.name, name)) {
      throw new DamagedObjectError(`${folder}/${file}`, "entry holds another name");
    }
    return entry;
  }

  /** Writes (or replaces) entry `name` atomically. */
  async put(dir: bigint, folder: string, name: Uint8Array, target: EntryTarget): Promise<void> {
    const file = this.keys.entryName(dir, name);
    const pt = new Writer().u64(target.ino).u32(target.type).bytes(name).pad(ENTRY_QUANTUM)
      .finish();
    const blob = await sealBlob(this.keys, MAGIC, this.#ad(dir, file), pt);
    await this.checkFolder(folder);
    await writeFileAtomic(`${folder}/${file}`, blob, false);
  }

  /** Deletes entry `name`. */
  remove(dir: bigint, folder: string, name: Uint8Array): Promise<void> {
    try {
      unlinkSync(`${folder}/${this.keys.entryName(dir, name)}`);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The entry file names of a directory's folder (one directory read, nothing decrypted). */
  async names(folder: string): Promise<string[]> {
    if (!(await this.checkFolder(folder))) return [];
    try {
      return (await readdir(folder)).filter((f) => !f.includes(TMP_MARK));
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") return [];
      throw e;
    }
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
    for (let i = 0; i < files.length; i++) {
      if (i % 256 === 255) await new Promise((r) => setTimeout(r, 0));
      try {
        const blob = await this.#read(`${folder}/${files[i]}`);
        // The associated data binds parent and file name: no need to re-hash the name.
        out.push(blob ? await this.#open(dir, folder, files[i], blob) : null);
      } catch (e) {
        if (!(e instanceof DamagedObjectError)) throw e;
        onDamaged(e);
        out.push(null);
      }
    }
    return out;
  }

  /** Whether the folder holds no entry (temporary debris aside). */
  isEmpty(folder: string): Promise<boolean> {
    // Reads only until the first real entry, however large the folder.
    let d;
    try {
      d = opendirSync(folder);
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") return Promise.resolve(true);
      return Promise.reject(e);
    }
    try {
      for (let e = d.readSync(); e; e = d.readSync()) {
        if (!e.name.includes(TMP_MARK)) return Promise.resolve(false);
      }
      return Promise.resolve(true);
    } finally {
      d.closeSync();
    }
  }

  async #read(path: string): Promise<Uint8Array | null> {
    try {
      return await readObject(path, MAX_ENTRY_BYTES);
    } catch (e) {
      if (e instanceof NotAnObjectError) throw new DamagedObjectError(path, e.message);
      throw e;
    }
  }

  async #open(dir: bigint, folder: string, file: string, blob: Uint8Array): Promise<StoredEntry> {
    try {
      const rd = new Reader(await openBlob(this.keys, MAGIC, this.#ad(dir, file), blob));
      const e = { ino: rd.u64(), type: rd.u32(), name: rd.bytes() };
      rd.pad();
      rd.end();
      return e;
    } catch (e) {
      if (e instanceof CorruptObjectError || e instanceof DecodeError) {
        throw new DamagedObjectError(`${folder}/${file}`, e.message);
      }
      throw e;
    }
  }
}
