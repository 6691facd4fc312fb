/**
 * `EncryptedFs`: POSIX semantics over the encrypted store. Every operation of the FUSE mount and
 * of the path API lands here. See docs/format.md for what is on disk and docs/threat-model.md
 * for what that protects.
 */
import { statfs as backingStatfs } from "node:fs/promises";
import type { CipherName } from "../crypto/aead.ts";
import { randomBytes } from "../crypto/random.ts";
import { DirStore, type StoredEntry } from "../store/dir_store.ts";
import type { KeyFileHeader } from "../store/keyfile.ts";
import { type InodeRecord, isDir, isRegular, isSymlink, newRecord } from "../store/inode_record.ts";
import { StoreKeys } from "../store/keys.ts";
import { DamagedObjectError, type LoadedRecord, RecordStore } from "../store/record_store.ts";
import { bytesEqual } from "../util/bytes.ts";
import { Trash } from "../store/trash.ts";
import {
  createDataDir,
  type CreateOptions,
  inspectDataDir,
  type Secret,
  unlockDataDir,
} from "../store/datadir.ts";
import { fromIoError, FsError, fsError } from "./errors.ts";
import { KeyedMutex } from "../util/mutex.ts";
import { DirLock } from "../../ffi/dirlock.ts";
import { FileData } from "./file_data.ts";
import { type EntryLoc, type Inode, inodeCacheLimit, InodeTable } from "./inode_table.ts";
import {
  type Attr,
  type Caller,
  type DirEntry,
  type FileSystem,
  NAME_MAX,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  ROOT_INO,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  type SetAttrChanges,
  type StatFs,
  type TimeSpec,
  XATTR_CREATE,
  XATTR_REPLACE,
} from "./types.ts";

/** The data dir unlocked, but its root directory is missing or damaged. */
export class DamagedDataDirError extends Error {}

/** The data dir was made with another cipher than the one asked for. */
export class CipherMismatchError extends Error {}

/** Options for opening a data dir. */
export interface OpenOptions {
  readOnly?: boolean;
  /** Called once per damaged object (path and reason), e.g. to log it. */
  onDamaged?: (path: string, reason: string) => void;
  /** The cipher the caller expects; a data dir made with another one is refused. */
  cipher?: CipherName;
  /** Milliseconds between background writes of dirty records (default 5000). */
  flushIntervalMs?: number;
  /**
   * Milliseconds without key use after which the process's key material is wiped, to be read
   * back from the kernel keyring on the next use (`StoreKeys`); 0 or absent: never.
   */
  keyIdleMs?: number;
}

// Answers on hot paths (every create starts with a failed lookup; the kernel asks for
// security.capability on every write): one shared instance each, no stack capture per miss.
const NO_ENTRY = new FsError("ENOENT");
const NO_XATTR = new FsError("ENODATA");

/**
 * How often dirty records are written (after one syncfs): what a crash can lose of files being
 * written, like ext4's 5-second journal commit. fsync(2) makes a file durable at once.
 */
const FLUSH_INTERVAL_MS = Number(Deno.env.get("RENCFS_FLUSH_MS") ?? 5000);
/** link(): the file moved to another directory while the locks were being taken. */
const MOVED = Symbol("moved");
function throwMoved(): never {
  throw fsError("EAGAIN", "the file kept moving to other directories");
}
/** Positive lookups in one directory after which its entry files are read ahead. */
const PREFETCH_AFTER_LOOKUPS = 32;
/** A directory is read ahead again at most this often. */
const PREFETCH_AGAIN_MS = 10 * 60_000;
/** Entry files read ahead per directory, at most. */
const PREFETCH_MAX_ENTRIES = 16_384;

const O_ACCMODE = 0o3;
const O_TRUNC = 0o1000;
const XATTR_SIZE_MAX = 65536;
const XATTR_TOTAL_MAX = 256 * 1024;
const SYMLINK_MAX = 4095;

interface FileHandle {
  ino: bigint;
  dir: false;
}
interface DirHandle {
  ino: bigint;
  dir: true;
  /** Entry file names when the listing started: cookie 2 + k is the k-th of them. */
  snapshot: string[] | null;
}

/** Current time in nanoseconds since the epoch (microsecond resolution). */
function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

function timeOf(t: TimeSpec, now: bigint): bigint {
  return t === "now" ? now : t;
}

function randomIno(): bigint {
  for (;;) {
    const v = new DataView(randomBytes(8).buffer).getBigUint64(0, true);
    if (v > ROOT_INO) return v;
  }
}

function checkName(name: Uint8Array): void {
  if (name.length === 0) throw fsError("ENOENT", "empty name");
  if (name.length > NAME_MAX) throw fsError("ENAMETOOLONG");
  if (name.includes(0x2f) || name.includes(0)) throw fsError("EINVAL", "name contains / or NUL");
  if (name.length <= 2 && name.every((b) => b === 0x2e)) throw fsError("EEXIST", "dot entry");
}

/** The encrypted filesystem of one unlocked data dir. */
export class EncryptedFs implements FileSystem {
  readonly readOnly: boolean;
  readonly header: KeyFileHeader;
  readonly #root: string;
  readonly #keys: StoreKeys;
  readonly #records: RecordStore;
  readonly #trash: Trash;
  readonly #dirs: DirStore;
  readonly #table: InodeTable;
  readonly #data: FileData;
  readonly #handles = new Map<number, FileHandle | DirHandle>();
  readonly #dirLocks = new KeyedMutex<bigint>();
  readonly #reported = new Set<string>();
  readonly #lookups = new Map<bigint, number>();
  readonly #prefetched = new Map<bigint, number>();
  /** Files whose shrink left chunk slots to drop after the next syncfs (FileData.trim). */
  readonly #toTrim = new Set<Inode>();
  /**
   * Entry file name -> inode number, for inodes living in entry files that lookups and listings
   * made live: a hint only, trusted when the live inode's own location names that very file
   * (see #liveEntry). Bounded.
   */
  readonly #inEntries = new Map<string, bigint>();
  readonly #lock: DirLock;
  readonly #onDamaged?: (path: string, reason: string) => void;
  #nextFh = 1;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #flushing: Promise<void> | null = null;
  /** Format 2: an inode with one name (not a directory) lives in that name's entry file. */
  readonly #inline: boolean;

  private constructor(
    root: string,
    keys: StoreKeys,
    header: KeyFileHeader,
    lock: DirLock,
    opts: OpenOptions,
  ) {
    this.#lock = lock;
    this.#root = root;
    this.#keys = keys;
    this.header = header;
    this.readOnly = opts.readOnly ?? false;
    this.#onDamaged = opts.onDamaged;
    this.#trash = new Trash(root);
    this.#records = new RecordStore(root, keys, this.#trash);
    if (!this.readOnly) this.#trash.sweep();
    this.#dirs = new DirStore(keys, this.#records);
    this.#inline = header.version >= 2;
    const report = (e: DamagedObjectError) => this.#report(e);
    const table = new InodeTable(this.#records, report, () => lock.syncfs());
    this.#table = table;
    this.#data = new FileData(
      keys,
      header.chunkSize,
      async (node) => {
        await this.#records.checkFolder(table.place(node).folder);
      },
      (node) => table.path(node),
      report,
      !this.readOnly,
      (node) => this.#toTrim.add(node),
    );
    if (!this.readOnly) {
      this.#timer = setInterval(() => {
        this.#flushDirty().catch(() => {});
      }, opts.flushIntervalMs ?? FLUSH_INTERVAL_MS);
      Deno.unrefTimer(this.#timer as unknown as number);
    }
  }

  /**
   * Creates a data dir in an empty or missing folder and opens it. The recovery code is the
   * master key: show it to the user once; it can set a new password if the old one is lost.
   */
  static async create(
    dataDir: string,
    password: string,
    opts: CreateOptions & OpenOptions = {},
  ): Promise<{ fs: EncryptedFs; recoveryCode: string }> {
    const made = await createDataDir(dataDir, password, opts);
    const fs = EncryptedFs.#fromKey(dataDir, made.masterKey, made.header, opts);
    return { fs, recoveryCode: made.recoveryCode };
  }

  /** Opens an existing data dir with its password or recovery code. */
  static async open(dataDir: string, secret: Secret, opts: OpenOptions = {}): Promise<EncryptedFs> {
    const { masterKey, header } = await unlockDataDir(dataDir, secret, {
      repair: !opts.readOnly,
      onDamaged: opts.onDamaged,
    });
    if (opts.cipher && opts.cipher !== header.cipher) {
      masterKey.fill(0);
      throw new CipherMismatchError(
        `${dataDir} uses ${header.cipher}, not ${opts.cipher} (the cipher is chosen at creation)`,
      );
    }
    const fs = EncryptedFs.#fromKey(dataDir, masterKey, header, opts);
    try {
      // What a killed process left in the page cache is made durable first: records read now are
      // the ones updates must never overwrite (see InodeTable.#target).
      if (!fs.readOnly) await fs.#table.syncData();
      await fs.#table.get(ROOT_INO);
    } catch (e) {
      const what = e instanceof FsError && e.code === "ENOENT" ? "missing" : "damaged";
      const name = fs.#keys.objectName(ROOT_INO);
      await fs.close();
      throw new DamagedDataDirError(`${dataDir}: the root directory's record ${name}.m is ${what}`);
    }
    return fs;
  }

  static #fromKey(
    dataDir: string,
    masterKey: Uint8Array,
    header: KeyFileHeader,
    opts: OpenOptions,
  ): EncryptedFs {
    try {
      const lock = DirLock.acquire(dataDir, opts.readOnly ?? false);
      let keys: StoreKeys | undefined;
      try {
        keys = StoreKeys.derive(masterKey, header.cipher as CipherName, {
          idleMs: opts.keyIdleMs,
        });
        return new EncryptedFs(dataDir, keys, header, lock, opts);
      } catch (e) {
        // Setting up failed (the trash could not be made, say): leave nothing held.
        keys?.wipe();
        lock.release();
        throw e;
      }
    } finally {
      masterKey.fill(0);
    }
  }

  /** Whether `dataDir` is missing, empty, a rencfs data dir, or something else. */
  static inspect: typeof inspectDataDir = inspectDataDir;

  #newRecord(ino: bigint, mode: number, caller: Caller, now: bigint): InodeRecord {
    return newRecord(ino, mode, caller, now, randomBytes(16));
  }

  #report(e: DamagedObjectError): void {
    const rel = e.path.startsWith(this.#root) ? e.path.slice(this.#root.length + 1) : e.path;
    if (this.#reported.has(rel)) return;
    this.#reported.add(rel);
    this.#onDamaged?.(rel, e.message);
  }

  #writable(): void {
    if (this.#closed) throw fsError("EIO", "filesystem is closed");
    if (this.readOnly) throw fsError("EROFS");
  }

  // Runs a store operation; I/O errors become errno errors (ENOSPC stays ENOSPC).
  async #io<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw fsError("EIO", "filesystem is closed");
    try {
      return await fn();
    } catch (e) {
      if (e instanceof FsError) throw e;
      if (e instanceof DamagedObjectError) {
        this.#report(e);
        throw fsError("EIO", e.message, { cause: e });
      }
      throw fromIoError(e, what);
    }
  }

  #attr(node: Inode): Attr {
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
      blocks: reg ? this.#data.blocks(node) : Math.ceil(r.size / 512),
      atimeNs: r.atimeNs,
      mtimeNs: r.mtimeNs,
      ctimeNs: r.ctimeNs,
    };
  }

  async #dir(ino: bigint): Promise<Inode> {
    const node = await this.#table.get(ino);
    if (!isDir(node.rec)) throw fsError("ENOTDIR");
    return node;
  }

  #folder(ino: bigint): string {
    return this.#records.paths(ino).entries;
  }

  // Persists a record change. A record that also covers chunks not yet synced, or of a file
  // whose last move is not yet durable (InodeTable.writableNow), would need a syncfs first:
  // unless `now` (ordering matters, as before dropping chunks), it is left to the background
  // flush, which syncs once for every such record (tar sets the times of each file it just
  // wrote: one syncfs per file would be ruinous).
  async #save(node: Inode, now = false): Promise<void> {
    node.dirty = true;
    if (!now && !this.#table.writableNow(node)) return;
    await this.#table.save(node);
  }

  // A directory's own record (times, subdirectory count) is written by the background flush:
  // untarring 1000 files into one directory then costs one record write, not 1000. Its
  // entries, which are what a crash must not lose, are written at once.
  #touchDir(dir: Inode, now: bigint): void {
    dir.rec.mtimeNs = now;
    dir.rec.ctimeNs = now;
    dir.dirty = true;
  }

  // ------------------------------------------------------------------ lookups and attributes

  lookup(parent: bigint, name: Uint8Array): Promise<Attr> {
    return this.#io("lookup", async () => {
      if (name.length > NAME_MAX) throw fsError("ENAMETOOLONG");
      const dir = await this.#dir(parent);
      if (name.length === 1 && name[0] === 0x2e) return this.#attr(dir);
      if (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e) {
        return this.#attr(await this.#table.get(dir.rec.parent || ROOT_INO));
      }
      const file = this.#keys.entryName(parent, name);
      const live = this.#liveEntry(parent, name, file);
      if (live) return this.#attr(this.#table.peek(live.ino)!);
      const folder = this.#folder(parent);
      const entry = await this.#dirs.get(parent, folder, name, file);
      const node = entry && await this.#entryNode(parent, folder, entry);
      if (!node) throw NO_ENTRY;
      this.#notePositiveLookup(parent, folder);
      return this.#attr(node);
    });
  }

  // Many names of one directory looked up one by one (`stat` of every file, `ls -l` without
  // readdirplus, a build scanning its tree): read every entry file of that directory ahead,
  // all at once, so the following lookups find them in the page cache instead of waiting for
  // one disk read each. Once per directory per PREFETCH_AGAIN_MS, in the background.
  #notePositiveLookup(parent: bigint, folder: string): void {
    const n = (this.#lookups.get(parent) ?? 0) + 1;
    this.#lookups.set(parent, n);
    if (this.#lookups.size > 4096) this.#lookups.clear();
    if (n !== PREFETCH_AFTER_LOOKUPS) return;
    const last = this.#prefetched.get(parent) ?? -Infinity;
    if (performance.now() - last < PREFETCH_AGAIN_MS) return;
    this.#markPrefetched(parent);
    this.#lookups.delete(parent);
    this.#dirs.prefetch(folder, PREFETCH_MAX_ENTRIES).catch(() => {});
  }

  // Directory `ino`'s entry files were just read (ahead, or by a listing). Bounded.
  #markPrefetched(ino: bigint): void {
    if (this.#prefetched.size > 4096) this.#prefetched.clear();
    this.#prefetched.set(ino, performance.now());
  }

  // The inode an entry names: in the entry file itself, or the object it points at. Null for a
  // pointer whose inode file is missing or was never written: a power cut kept the pointer of a
  // creation and lost the inode file's bytes, so the name never existed (fsck removes it).
  #entryNode(parent: bigint, folder: string, e: StoredEntry): Promise<Inode | null> {
    if (!e.inline) return this.#entryInode(e.ino, parent);
    return Promise.resolve(this.#adopt(parent, folder, e, e.inline));
  }

  // Whether `name` in `parent` names an inode (a dangling pointer does not).
  async #taken(parent: bigint, folder: string, name: Uint8Array): Promise<boolean> {
    const e = await this.#entry(parent, folder, name);
    return !!e && (await this.#entryNode(parent, folder, e)) !== null;
  }

  #adopt(parent: bigint, folder: string, e: StoredEntry, rec: LoadedRecord): Inode {
    const node = this.#table.adopt(rec, this.#loc(parent, folder, e.name, e.file));
    if (this.#inEntries.size >= 2 * inodeCacheLimit()) this.#inEntries.clear();
    this.#inEntries.set(e.file, node.ino);
    return node;
  }

  /**
   * Entry `name` of `parent`, without reading its file when a live inode lives in it: the
   * inode's location is kept exact by every rename, link and unlink of this mount, and its
   * in-memory record is newer than the file. `rm -r` otherwise read each entry file three
   * times (the listing, the kernel's LOOKUP, the UNLINK), often from disk again: the page
   * cache of a VM whose host reclaims idle pages (DAMON here) does not keep them for long.
   * Anything else (pointers, names not live) reads the file.
   */
  async #entry(parent: bigint, folder: string, name: Uint8Array): Promise<StoredEntry | null> {
    const file = this.#keys.entryName(parent, name);
    return this.#liveEntry(parent, name, file) ?? await this.#dirs.get(parent, folder, name, file);
  }

  // The entry from the live inode that lives in entry file `file` (of `parent` and `name`), if
  // any. An unlinked inode has no location and a deleted one is not live; the file name follows
  // from parent and name.
  #liveEntry(parent: bigint, name: Uint8Array, file: string): StoredEntry | null {
    const ino = this.#inEntries.get(file);
    if (ino === undefined) return null;
    const node = this.#table.peek(ino);
    const loc = node?.loc;
    if (!node || !loc || loc.parent !== parent || !bytesEqual(loc.name, name)) {
      this.#inEntries.delete(file);
      return null;
    }
    node.touched = performance.now();
    const inline = { rec: node.rec, slot: node.slot, slotSize: node.slotSize, name: loc.name };
    return { ino, type: node.rec.mode & S_IFMT, name: loc.name, file, inline };
  }

  #loc(parent: bigint, folder: string, name: Uint8Array, file?: string): EntryLoc {
    return { parent, name: name.slice(), folder, file: file ?? this.#keys.entryName(parent, name) };
  }

  // Whether `node` lives in entry file `e` (format 2).
  #inEntry(node: Inode, parent: bigint, e: StoredEntry): boolean {
    return !!e.inline && node.loc?.parent === parent && node.loc.file === e.file;
  }

  // The entry file holding `node` is about to go (`remove` unlinks or replaces it). Under the
  // inode's save lock, so no record write lands in whatever takes that path next. While the
  // kernel or an open handle still refers to the inode (an open() may be on its way), its file
  // is kept in the trash as its backing file until the inode is deleted.
  async #retire(node: Inode, how: "unlink" | "replace", remove: () => Promise<void>) {
    await node.saveLock.run(async () => {
      const path = this.#table.path(node);
      if (node.referenced && isRegular(node.rec)) {
        node.keptPath = this.#trash.hold(path, how === "unlink" ? "rename" : "link");
      }
      if (how === "replace" || !node.keptPath) await remove();
      this.#detach(node);
    });
  }

  // Moves an inode out of its entry file into its object place (before a second name or an
  // exchange): hard link first, then, under the same save lock, the entry file becomes a
  // pointer (undone if that fails).
  async #toObject(node: Inode): Promise<void> {
    const loc = node.loc;
    if (!loc) return;
    await this.#table.relocate(node, null, () =>
      this.#dirs.put(loc.parent, loc.folder, loc.name, {
        ino: node.ino,
        type: node.rec.mode & S_IFMT,
      }));
    this.#table.namespaceChanged();
  }

  // The inode a pointer entry names; null (reported once) when its inode file is missing or was
  // never written.
  async #entryInode(ino: bigint, parent: bigint): Promise<Inode | null> {
    try {
      return await this.#table.get(ino);
    } catch (e) {
      if (e instanceof FsError && e.code === "ENOENT") {
        this.#report(
          new DamagedObjectError(
            this.#folder(parent),
            `an entry points at inode file ${this.#keys.objectName(ino)}.m, missing or never ` +
              "written (a creation cut short; the name reads as absent, fsck --repair removes it)",
          ),
        );
        return null;
      }
      throw e;
    }
  }

  getattr(ino: bigint): Promise<Attr> {
    return this.#io("getattr", async () => this.#attr(await this.#table.get(ino)));
  }

  setattr(ino: bigint, ch: SetAttrChanges, _fh?: number): Promise<Attr> {
    return this.#io("setattr", async () => {
      this.#writable();
      const node = await this.#table.get(ino);
      const r = node.rec;
      const now = nowNs();
      if (ch.size !== undefined) {
        if (isDir(r)) throw fsError("EISDIR");
        if (!isRegular(r)) throw fsError("EINVAL");
        if (ch.size < 0) throw fsError("EINVAL");
        if (ch.size !== r.size) {
          // Shrinking: the record must be on disk before chunks are dropped.
          const shrinking = ch.size < r.size;
          await this.#data.truncate(node, ch.size, async () => {
            r.mtimeNs = r.ctimeNs = now;
            await this.#save(node, shrinking);
          });
        } else {
          r.mtimeNs = r.ctimeNs = now;
        }
      }
      if (ch.mode !== undefined) r.mode = (r.mode & S_IFMT) | (ch.mode & 0o7777);
      if (ch.uid !== undefined) r.uid = ch.uid;
      if (ch.gid !== undefined) r.gid = ch.gid;
      if (ch.atime !== undefined) r.atimeNs = timeOf(ch.atime, now);
      if (ch.mtime !== undefined) r.mtimeNs = timeOf(ch.mtime, now);
      r.ctimeNs = ch.ctime !== undefined ? timeOf(ch.ctime, now) : now;
      // An unlinked inode (still open, or being evicted by the kernel) lives in memory only.
      if (r.nlink > 0) await this.#save(node);
      return this.#attr(node);
    });
  }

  // ------------------------------------------------------------------ creating names

  async #createNode(
    parent: bigint,
    name: Uint8Array,
    mode: number,
    caller: Caller,
    init: (rec: InodeRecord) => void,
  ): Promise<Inode> {
    this.#writable();
    checkName(name);
    return await this.#dirLocks.run(parent, async () => {
      const dir = await this.#dir(parent);
      if (dir.rec.nlink === 0) throw fsError("ENOENT", "directory was removed");
      const folder = this.#folder(parent);
      if (await this.#taken(parent, folder, name)) throw fsError("EEXIST");
      const now = nowNs();
      const rec = this.#newRecord(randomIno(), mode, caller, now);
      // A set-group-ID directory passes its group on, and its S_ISGID to subdirectories.
      if (dir.rec.mode & 0o2000) {
        rec.gid = dir.rec.gid;
        if ((mode & S_IFMT) === S_IFDIR) rec.mode |= 0o2000;
      }
      init(rec);
      const type = rec.mode & S_IFMT;
      let node: Inode;
      if (type !== S_IFDIR && this.#inline) {
        // One file: the entry file is the inode file (created whole, by rename).
        const loc = this.#loc(parent, folder, name);
        const place = this.#records.entryPlace(parent, folder, loc.file);
        const slotSize = await this.#records.create(rec, place, { name });
        node = this.#table.add(rec, slotSize, loc);
      } else {
        // Order for crash safety: the child exists on disk before any entry points at it.
        if (type === S_IFDIR) await this.#dirs.createFolder(this.#folder(rec.ino));
        const slotSize = await this.#records.create(rec, this.#records.objectPlace(rec.ino));
        await this.#dirs.put(parent, folder, name, { ino: rec.ino, type });
        node = this.#table.add(rec, slotSize);
      }
      this.#table.namespaceChanged();
      dir.rec.entries++;
      this.#touchDir(dir, now);
      // The parent's link count (2 + subdirectories) is written at once, not by the next flush:
      // a crash must not leave it wrong.
      if (type === S_IFDIR) {
        dir.rec.subdirs++;
        await this.#save(dir);
      }
      return node;
    });
  }

  mknod(
    parent: bigint,
    name: Uint8Array,
    mode: number,
    rdev: number,
    caller: Caller,
  ): Promise<Attr> {
    return this.#io("mknod", async () => {
      const type = mode & S_IFMT;
      if (type === S_IFDIR || type === S_IFLNK) throw fsError("EINVAL");
      const m = type === 0 ? S_IFREG | (mode & 0o7777) : mode;
      return this.#attr(await this.#createNode(parent, name, m, caller, (r) => r.rdev = rdev));
    });
  }

  mkdir(parent: bigint, name: Uint8Array, mode: number, caller: Caller): Promise<Attr> {
    return this.#io("mkdir", async () => {
      const node = await this.#createNode(
        parent,
        name,
        S_IFDIR | (mode & 0o7777),
        caller,
        (r) => {
          r.parent = parent;
          r.nlink = 2;
        },
      );
      return this.#attr(node);
    });
  }

  symlink(parent: bigint, name: Uint8Array, target: Uint8Array, caller: Caller): Promise<Attr> {
    return this.#io("symlink", async () => {
      if (target.length === 0) throw fsError("ENOENT");
      if (target.length > SYMLINK_MAX) throw fsError("ENAMETOOLONG");
      const node = await this.#createNode(parent, name, S_IFLNK | 0o777, caller, (r) => {
        r.target = target.slice();
        r.size = target.length;
      });
      return this.#attr(node);
    });
  }

  create(
    parent: bigint,
    name: Uint8Array,
    mode: number,
    flags: number,
    caller: Caller,
  ): Promise<{ attr: Attr; fh: number }> {
    return this.#io("create", async () => {
      const node = await this.#createNode(
        parent,
        name,
        S_IFREG | (mode & 0o7777),
        caller,
        () => {},
      );
      return { attr: this.#attr(node), fh: this.#openHandle(node, flags) };
    });
  }

  link(ino: bigint, newParent: bigint, newName: Uint8Array): Promise<Attr> {
    return this.#io("link", async () => {
      this.#writable();
      checkName(newName);
      // The directory holding the inode's entry file is locked too: the file moves. A rename
      // to another directory between reading its place and taking the locks: try again.
      for (let attempt = 0;; attempt++) {
        const r = await this.#link(ino, newParent, newName);
        if (r !== MOVED || attempt >= 8) return r === MOVED ? throwMoved() : r;
      }
    });
  }

  async #link(ino: bigint, newParent: bigint, newName: Uint8Array): Promise<Attr | typeof MOVED> {
    const first = await this.#table.get(ino);
    const locks = [newParent, first.loc?.parent ?? newParent];
    return await this.#dirLocks.runAll(locks, async () => {
      const node = await this.#table.get(ino);
      if (isDir(node.rec)) throw fsError("EPERM", "hard link to a directory");
      if (node.rec.nlink === 0) throw fsError("ENOENT");
      if (node.loc && !locks.includes(node.loc.parent)) return MOVED;
      const dir = await this.#dir(newParent);
      const folder = this.#folder(newParent);
      if (await this.#taken(newParent, folder, newName)) throw fsError("EEXIST");
      const now = nowNs();
      node.rec.nlink++;
      node.rec.ctimeNs = now;
      // The count goes up on disk before the entry exists (even if that costs a syncfs): a
      // crash leaves a count too high, never a name pointing at a deleted inode. An inode in
      // its entry file moves to its object place first (with the new count).
      try {
        if (node.loc) await this.#toObject(node);
        else await this.#table.save(node, { durable: true, force: true });
      } catch (e) {
        node.rec.nlink--;
        throw e;
      }
      await this.#dirs.put(newParent, folder, newName, {
        ino,
        type: node.rec.mode & S_IFMT,
      });
      this.#table.namespaceChanged();
      dir.rec.entries++;
      this.#touchDir(dir, now);
      return this.#attr(node);
    });
  }

  readlink(ino: bigint): Promise<Uint8Array> {
    return this.#io("readlink", async () => {
      const node = await this.#table.get(ino);
      if (!isSymlink(node.rec)) throw fsError("EINVAL");
      return node.rec.target.slice();
    });
  }

  // ------------------------------------------------------------------ removing names

  unlink(parent: bigint, name: Uint8Array): Promise<void> {
    return this.#io("unlink", () => this.#remove(parent, name, false));
  }

  rmdir(parent: bigint, name: Uint8Array): Promise<void> {
    return this.#io("rmdir", () => this.#remove(parent, name, true));
  }

  async #remove(parent: bigint, name: Uint8Array, wantDir: boolean): Promise<void> {
    this.#writable();
    if (name.length > NAME_MAX) throw fsError("ENAMETOOLONG");
    if (name.length <= 2 && name.length > 0 && name.every((b) => b === 0x2e)) {
      throw fsError(wantDir ? (name.length === 1 ? "EINVAL" : "ENOTEMPTY") : "EISDIR");
    }
    await this.#dirLocks.run(parent, async () => {
      const dir = await this.#dir(parent);
      const folder = this.#folder(parent);
      const entry = await this.#entry(parent, folder, name);
      const node = entry && await this.#entryNode(parent, folder, entry);
      if (!entry) throw fsError("ENOENT");
      if (!node) {
        // A dangling pointer (see #entryNode) names nothing, but would keep its directory from
        // ever being empty: removing it (under the directory's lock, so it is not a name made
        // meanwhile) lets `rm -r` finish. Whatever its lost inode held is left for fsck.
        await this.#dirs.remove(parent, folder, name);
        this.#table.namespaceChanged();
        throw fsError("ENOENT");
      }
      const isDirectory = isDir(node.rec);
      if (wantDir && !isDirectory) throw fsError("ENOTDIR");
      if (!wantDir && isDirectory) throw fsError("EISDIR");
      if (isDirectory && await this.#holdsNames(node.ino)) {
        throw fsError("ENOTEMPTY");
      }
      const remove = () => this.#dirs.remove(parent, folder, name);
      if (this.#inEntry(node, parent, entry)) await this.#retire(node, "unlink", remove);
      else await remove();
      this.#table.namespaceChanged();
      const now = nowNs();
      dir.rec.entries = Math.max(0, dir.rec.entries - 1);
      this.#touchDir(dir, now);
      if (isDirectory) {
        dir.rec.subdirs = Math.max(0, dir.rec.subdirs - 1);
        await this.#save(dir);
      }
      await this.#dropLink(node, now);
    });
  }

  // Whether directory `ino` holds a name. What a power cut leaves of creations (dangling
  // pointers, entry files never written; see #entryNode) names nothing, and is removed with the
  // directory's folder; a damaged entry counts (fsck decides what it was).
  async #holdsNames(ino: bigint): Promise<boolean> {
    const folder = this.#folder(ino);
    if (await this.#dirs.isEmpty(folder)) return false;
    const files = await this.#dirs.names(folder);
    for (let i = 0; i < files.length; i += 32) {
      let damaged = false;
      const entries = await this.#dirs.read(ino, folder, files.slice(i, i + 32), (e) => {
        damaged = true;
        this.#report(e);
      });
      if (damaged) return true;
      for (const e of entries) {
        if (e && (e.inline || await this.#entryInode(e.ino, ino))) return true;
      }
    }
    return false;
  }

  // One name of `node` is gone: count it, and delete the inode once nothing refers to it.
  async #dropLink(node: Inode, now: bigint): Promise<void> {
    node.rec.nlink = isDir(node.rec) ? 0 : Math.max(0, node.rec.nlink - 1);
    node.rec.ctimeNs = now;
    if (node.rec.nlink === 0) {
      // No name points at it any more: it lives on in memory while referenced (open, or known
      // to the kernel) and is deleted after; writing its record meanwhile would be wasted.
      node.dirty = false;
      if (!node.referenced) await this.#delete(node);
      else if (!node.gone) await this.#orphan(node);
    } else {
      await this.#save(node);
    }
  }

  // An inode in its object place lost its last name while still referenced: its objects leave
  // the tree now, not when the kernel forgets it, so a crash meanwhile leaves no orphan behind
  // (the trash is emptied at the next open). A regular file keeps its file there for reading.
  async #orphan(node: Inode): Promise<void> {
    await node.saveLock.run(async () => {
      if (node.deleted || node.gone) return;
      if (isRegular(node.rec)) node.keptPath = this.#trash.hold(this.#table.path(node), "rename");
      else await this.#records.remove(node.ino, isDir(node.rec));
      this.#detach(node);
      this.#table.namespaceChanged();
    });
  }

  // The entry file holding `node` was unlinked or replaced: it lives on in memory (and in its
  // open descriptor) only, with nothing on disk left to delete.
  #detach(node: Inode): void {
    node.loc = null;
    node.gone = true;
  }

  async #delete(node: Inode): Promise<void> {
    await this.#data.closeContent(node);
    await this.#table.delete(node);
  }

  // Deletes an unlinked inode whose last reference just went away.
  #reapLater(node: Inode): void {
    if (node.rec.nlink !== 0 || node.referenced || this.readOnly) return;
    this.#delete(node).catch(() => {});
  }

  rename(
    parent: bigint,
    name: Uint8Array,
    newParent: bigint,
    newName: Uint8Array,
    flags: number,
  ): Promise<void> {
    return this.#io("rename", async () => {
      this.#writable();
      if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) throw fsError("EINVAL");
      if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) throw fsError("EINVAL");
      checkName(newName);
      if (name.length > NAME_MAX) throw fsError("ENAMETOOLONG");
      // Counted whatever happens: a rename that failed half-way (an exchange's second entry,
      // a pointer's removal) changed names too.
      try {
        await this.#renameLocked(parent, name, newParent, newName, flags);
      } finally {
        this.#table.namespaceChanged();
      }
    });
  }

  async #renameLocked(
    parent: bigint,
    name: Uint8Array,
    newParent: bigint,
    newName: Uint8Array,
    flags: number,
  ): Promise<void> {
    await this.#dirLocks.runAll([parent, newParent], async () => {
      const src = await this.#dir(parent);
      const dst = await this.#dir(newParent);
      const srcFolder = this.#folder(parent);
      const dstFolder = this.#folder(newParent);
      const a = await this.#entry(parent, srcFolder, name);
      const aNode = a && await this.#entryNode(parent, srcFolder, a);
      if (!a || !aNode) throw fsError("ENOENT");
      let b = await this.#entry(newParent, dstFolder, newName);
      // A dangling pointer (see #entryNode) is no name: it is simply replaced.
      const bFound = b && await this.#entryNode(newParent, dstFolder, b);
      if (!bFound) b = null;
      if (isDir(aNode.rec) && parent !== newParent) await this.#checkNotInside(a.ino, newParent);
      const now = nowNs();
      const target = (n: Inode) => ({ ino: n.ino, type: n.rec.mode & S_IFMT });
      if (flags & RENAME_EXCHANGE) {
        if (!b || !bFound) throw fsError("ENOENT");
        const bNode = bFound;
        if (isDir(bNode.rec) && parent !== newParent) {
          await this.#checkNotInside(b.ino, parent);
        }
        if (b.ino === a.ino) return;
        // Inodes in entry files move to their object places first: then both names are
        // pointers, and swapping them rewrites two small files.
        if (this.#inEntry(aNode, parent, a)) await this.#toObject(aNode);
        if (this.#inEntry(bNode, newParent, b)) await this.#toObject(bNode);
        await this.#dirs.put(newParent, dstFolder, newName, target(aNode));
        await this.#dirs.put(parent, srcFolder, name, target(bNode));
        await this.#moved(aNode, src, dst, now);
        await this.#moved(bNode, dst, src, now);
        return;
      }
      let bNode: Inode | null = null;
      if (b && bFound) {
        if (flags & RENAME_NOREPLACE) throw fsError("EEXIST");
        if (b.ino === a.ino) return; // two names of one inode: rename does nothing
        bNode = bFound;
        if (isDir(aNode.rec)) {
          if (!isDir(bNode.rec)) throw fsError("ENOTDIR");
          if (await this.#holdsNames(b.ino)) throw fsError("ENOTEMPTY");
        } else if (isDir(bNode.rec)) throw fsError("EISDIR");
      }
      const bInEntry = !!b && !!bNode && this.#inEntry(bNode, newParent, b);
      let saved = false;
      const move = async () => {
        if (this.#inEntry(aNode, parent, a)) {
          // The inode file itself moves (replacing whatever the new name held).
          aNode.rec.ctimeNs = now;
          await this.#table.relocate(aNode, this.#loc(newParent, dstFolder, newName));
          saved = true;
        } else {
          await this.#dirs.put(newParent, dstFolder, newName, target(aNode));
          await this.#dirs.remove(parent, srcFolder, name);
        }
      };
      if (bNode && bInEntry) await this.#retire(bNode, "replace", move);
      else await move();
      if (bNode) {
        if (isDir(bNode.rec)) dst.rec.subdirs = Math.max(0, dst.rec.subdirs - 1);
        dst.rec.entries = Math.max(0, dst.rec.entries - 1);
      }
      await this.#moved(aNode, src, dst, now, saved);
      if (bNode) await this.#dropLink(bNode, now);
    });
  }

  // Bookkeeping after `node` moved from directory `from` to `to` (which may be the same).
  async #moved(node: Inode, from: Inode, to: Inode, now: bigint, saved = false): Promise<void> {
    this.#touchDir(from, now);
    this.#touchDir(to, now);
    if (from !== to) {
      from.rec.entries = Math.max(0, from.rec.entries - 1);
      to.rec.entries++;
      if (isDir(node.rec)) {
        node.rec.parent = to.ino;
        from.rec.subdirs = Math.max(0, from.rec.subdirs - 1);
        to.rec.subdirs++;
        // Link counts are written at once (see #createNode).
        await this.#save(from);
        await this.#save(to);
      }
    }
    if (saved) return; // its record was just written, moved with it
    node.rec.ctimeNs = now;
    await this.#save(node);
  }

  // EINVAL when directory `ino` is `target` or one of its ancestors (a move into itself).
  async #checkNotInside(ino: bigint, target: bigint): Promise<void> {
    let cur = target;
    for (let depth = 0; depth < 4096; depth++) {
      if (cur === ino) throw fsError("EINVAL", "cannot move a directory into itself");
      if (cur === ROOT_INO) return;
      cur = (await this.#table.get(cur)).rec.parent;
    }
    throw fsError("ELOOP");
  }

  // ------------------------------------------------------------------ open files

  #openHandle(node: Inode, _flags: number): number {
    const fh = this.#nextFh++;
    this.#handles.set(fh, { ino: node.ino, dir: false });
    node.opens++;
    return fh;
  }

  #fileHandle(ino: bigint, fh: number): void {
    const h = this.#handles.get(fh);
    if (!h || h.ino !== ino || h.dir) throw fsError("EBADF");
  }

  open(ino: bigint, flags: number): Promise<number> {
    return this.#io("open", async () => {
      const node = await this.#table.get(ino);
      if (isDir(node.rec)) throw fsError("EISDIR");
      const wantsWrite = (flags & O_ACCMODE) !== 0;
      if (wantsWrite || flags & O_TRUNC) this.#writable();
      const fh = this.#openHandle(node, flags);
      if (flags & O_TRUNC && isRegular(node.rec) && node.rec.size > 0) {
        try {
          await this.setattr(ino, { size: 0 });
        } catch (e) {
          await this.release(ino, fh);
          throw e;
        }
      }
      return fh;
    });
  }

  read(ino: bigint, fh: number, offset: number, length: number): Promise<Uint8Array> {
    return this.#io(
      "read",
      async () => this.#data.read(await this.#readable(ino, fh), offset, length),
    );
  }

  // The regular file behind an open handle, for reading.
  async #readable(ino: bigint, fh: number): Promise<Inode> {
    this.#fileHandle(ino, fh);
    const node = await this.#table.get(ino);
    if (!isRegular(node.rec)) throw fsError("EINVAL");
    return node;
  }

  /**
   * Like {@link read}, as consecutive pieces that are views of decrypted chunks (read-only;
   * they may share a buffer with other chunks): for callers that copy them out at once, such
   * as the FUSE adapter, this saves a copy and an allocation per read.
   */
  readPieces(ino: bigint, fh: number, offset: number, length: number): Promise<Uint8Array[]> {
    return this.#io(
      "read",
      async () => this.#data.readPieces(await this.#readable(ino, fh), offset, length),
    );
  }

  /**
   * Hands back the pieces of a {@link readPieces} call once they are no longer used (each
   * call's pieces once; the views must not be touched afterwards): their buffers are then reused
   * for later reads instead of piling up until the garbage collector runs. Optional.
   */
  releasePieces(pieces: Uint8Array[]): void {
    this.#data.releasePieces(pieces);
  }

  /**
   * Lets go of memory kept for speed: the spare chunk buffers (about 33 MiB after streaming:
   * 16 write and 16 read images of 1 MiB, 16 single chunks).
   * For a caller that has gone idle; the next reads and writes allocate again.
   */
  trimMemory(): void {
    this.#keys.chunks.trim();
  }

  forgettable(max: number): { parent: bigint; name: Uint8Array }[] {
    return this.#table.forgettable(max).map((n) => ({ parent: n.loc!.parent, name: n.loc!.name }));
  }

  /**
   * A buffer for the data of a coming {@link write}, which that write may take over (the
   * buffer is then detached) instead of copying: for callers that fill a fresh buffer per
   * write anyway, such as the FUSE adapter. Its contents are undefined until filled.
   */
  writeBuffer(bytes: number): Uint8Array {
    return this.#data.writeBuffer(bytes);
  }

  write(ino: bigint, fh: number, offset: number, data: Uint8Array): Promise<number> {
    const length = data.length; // data may be detached by the time the write is done
    return this.#io("write", async () => {
      this.#writable();
      this.#fileHandle(ino, fh);
      const node = await this.#table.get(ino);
      if (!isRegular(node.rec)) throw fsError("EINVAL");
      await this.#data.write(node, offset, data);
      const now = nowNs();
      node.rec.mtimeNs = now;
      node.rec.ctimeNs = now;
      // Writes clear set-user-id and (with group execute) set-group-id, as local filesystems do.
      if (node.rec.mode & 0o6000) {
        node.rec.mode &= ~0o4000;
        if (node.rec.mode & 0o010) node.rec.mode &= ~0o2000;
      }
      node.dirty = true;
      return length;
    });
  }

  fallocate(
    ino: bigint,
    fh: number,
    offset: number,
    length: number,
    mode: number,
  ): Promise<void> {
    return this.#io("fallocate", async () => {
      this.#writable();
      this.#fileHandle(ino, fh);
      if (mode !== 0) throw fsError("EOPNOTSUPP");
      if (offset < 0 || length <= 0) throw fsError("EINVAL");
      const node = await this.#table.get(ino);
      if (offset + length > node.rec.size) {
        await this.#data.truncate(node, offset + length, () => this.#save(node));
      }
    });
  }

  flush(ino: bigint, fh: number): Promise<void> {
    return this.#io("flush", async () => {
      this.#fileHandle(ino, fh);
      const node = this.#table.peek(ino);
      if (node?.dirty && this.#table.writableNow(node)) await this.#table.save(node);
    });
  }

  fsync(ino: bigint, fh: number, dataOnly: boolean): Promise<void> {
    return this.#io("fsync", async () => {
      this.#fileHandle(ino, fh);
      const node = await this.#table.get(ino);
      const growth = node.growth;
      // Chunks written through a content file closed since are synced by a syncfs.
      if (node.content) await node.content.sync(dataOnly);
      else if (growth !== node.syncedGrowth) await this.#table.syncData();
      node.syncedGrowth = Math.max(node.syncedGrowth, growth);
      // Size and holes live in the record: it must be durable for the data to be reachable.
      await this.#durable(node, node.dirty || !dataOnly);
    });
  }

  // Writes the record of `node` (if `force` or dirty) so that it, the name of its file and every
  // name change made before survive a power cut, as ext4 gives an application that fsyncs: the
  // record alone is synced when no name changed since the last syncfs, else one syncfs covers
  // all (a new file's name, its new parent directories, a rename into place).
  async #durable(node: Inode, force: boolean): Promise<void> {
    const names = !this.#table.namespaceSynced;
    await this.#table.save(node, { durable: !names, force });
    if (names) await this.#table.syncData();
  }

  release(ino: bigint, fh: number): Promise<void> {
    return this.#io("release", async () => {
      const h = this.#handles.get(fh);
      if (!h || h.ino !== ino) return;
      this.#handles.delete(fh);
      const node = this.#table.peek(ino);
      if (!node) return;
      node.opens--;
      if (node.opens > 0) return;
      // A record that grew waits for the background flush (one syncfs for many files).
      node.dropReadAhead();
      if (node.dirty && node.rec.nlink > 0 && this.#table.writableNow(node)) {
        await this.#table.save(node);
      }
      await this.#data.closeContent(node);
      this.#reapLater(node);
    });
  }

  // ------------------------------------------------------------------ directories

  opendir(ino: bigint): Promise<number> {
    return this.#io("opendir", async () => {
      await this.#dir(ino);
      const fh = this.#nextFh++;
      this.#handles.set(fh, { ino, dir: true, snapshot: null });
      return fh;
    });
  }

  /**
   * Lists a directory from cookie `offset`. With `plus` (readdirplus: the caller fetches each
   * entry's attributes next), inodes stored in their entry files become live as they are read,
   * so no second read is needed.
   */
  readdir(
    ino: bigint,
    fh: number,
    offset: bigint,
    limit: number,
    plus = false,
  ): Promise<DirEntry[]> {
    return this.#io("readdir", async () => {
      const h = this.#handles.get(fh);
      if (!h || h.ino !== ino || !h.dir) throw fsError("EBADF");
      const dir = await this.#dir(ino);
      const folder = this.#folder(ino);
      // A listing works on the entry file names read when it starts: cookies are positions in
      // that list, so entries added or removed meanwhile are reported at most once, and only
      // the entries of each page are decrypted (the first page of a huge directory is quick).
      if (!h.snapshot || offset === 0n) h.snapshot = await this.#dirs.names(folder);
      const names = h.snapshot;
      const out: DirEntry[] = [];
      let pos = Number(offset);
      if (pos === 0 && out.length < limit) {
        out.push({ name: Uint8Array.of(0x2e), ino, type: S_IFDIR, next: BigInt(++pos) });
      }
      if (pos === 1 && out.length < limit) {
        const parent = dir.rec.parent || ROOT_INO;
        out.push({
          name: Uint8Array.of(0x2e, 0x2e),
          ino: parent,
          type: S_IFDIR,
          next: BigInt(++pos),
        });
      }
      // The listing reads the entry files itself: no read-ahead for the lookups that follow.
      if (pos - 2 < names.length) this.#markPrefetched(ino);
      while (out.length < limit && pos - 2 < names.length) {
        const files = names.slice(pos - 2, pos - 2 + Math.min(limit - out.length, 512));
        const entries = await this.#dirs.read(ino, folder, files, (e) => this.#report(e));
        const base = pos;
        entries.forEach((e, k) => {
          if (!e) return;
          // Made live (while the table has room, or for readdirplus, whose entries the kernel
          // keeps), the lookup, stat or unlink that usually follows needs no second read.
          if (e.inline && (plus || this.#table.hasRoom)) this.#adopt(ino, folder, e, e.inline);
          out.push({ name: e.name, ino: e.ino, type: e.type, next: BigInt(base + k + 1) });
        });
        pos += files.length;
      }
      return out;
    });
  }

  releasedir(_ino: bigint, fh: number): Promise<void> {
    this.#handles.delete(fh);
    return Promise.resolve();
  }

  fsyncdir(ino: bigint, _fh: number): Promise<void> {
    return this.#io("fsyncdir", async () => {
      await this.#durable(await this.#table.get(ino), true);
    });
  }

  statfs(): Promise<StatFs> {
    return this.#io("statfs", async () => {
      const s = await backingStatfs(this.#root);
      const bsize = this.header.chunkSize;
      const scale = s.bsize / bsize;
      return {
        bsize,
        frsize: bsize,
        blocks: Math.floor(s.blocks * scale),
        bfree: Math.floor(s.bfree * scale),
        bavail: Math.floor(s.bavail * scale),
        files: s.files,
        ffree: s.ffree,
        namemax: NAME_MAX,
      };
    });
  }

  // ------------------------------------------------------------------ extended attributes

  getxattr(ino: bigint, name: string): Promise<Uint8Array> {
    return this.#io("getxattr", async () => {
      const v = (await this.#table.get(ino)).rec.xattrs.get(name);
      if (!v) throw NO_XATTR;
      return v.slice();
    });
  }

  setxattr(ino: bigint, name: string, value: Uint8Array, flags: number): Promise<void> {
    return this.#io("setxattr", async () => {
      this.#writable();
      if (name.length === 0 || name.length > 255) throw fsError("ERANGE");
      if (value.length > XATTR_SIZE_MAX) throw fsError("E2BIG");
      const node = await this.#table.get(ino);
      const x = node.rec.xattrs;
      if (flags & XATTR_CREATE && x.has(name)) throw fsError("EEXIST");
      if (flags & XATTR_REPLACE && !x.has(name)) throw fsError("ENODATA");
      let total = value.length + name.length;
      for (const [k, v] of x) if (k !== name) total += k.length + v.length;
      if (total > XATTR_TOTAL_MAX) throw fsError("ENOSPC", "too many extended attributes");
      // A regular file's record lives in fixed slots before its content: check it still fits.
      const trial = { ...node.rec, xattrs: new Map(x).set(name, value) };
      if (!this.#records.fits(trial, node.slotSize)) {
        throw fsError(
          "ENOSPC",
          "extended attributes of a regular file are limited to about 2.4 KiB",
        );
      }
      x.set(name, value.slice());
      node.rec.ctimeNs = nowNs();
      await this.#save(node);
    });
  }

  listxattr(ino: bigint): Promise<string[]> {
    return this.#io("listxattr", async () => [...(await this.#table.get(ino)).rec.xattrs.keys()]);
  }

  removexattr(ino: bigint, name: string): Promise<void> {
    return this.#io("removexattr", async () => {
      this.#writable();
      const node = await this.#table.get(ino);
      if (!node.rec.xattrs.delete(name)) throw fsError("ENODATA");
      node.rec.ctimeNs = nowNs();
      await this.#save(node);
    });
  }

  // ------------------------------------------------------------------ references and shutdown

  retain(ino: bigint): void {
    const node = this.#table.peek(ino);
    if (node) node.lookups++;
  }

  forget(ino: bigint, n: number): void {
    const node = this.#table.peek(ino);
    if (!node) return;
    node.lookups = Math.max(0, node.lookups - n);
    this.#reapLater(node);
  }

  // Writes dirty records in the background, then drops what shrinks left; one pass at a time.
  #flushDirty(): Promise<void> {
    if (!this.#flushing) {
      const nodes = this.#table.dirty().filter((n) => n.rec.nlink > 0 || n.ino === ROOT_INO);
      this.#flushing = this.#table.saveMany(nodes).then(() => this.#trimShrunk())
        .finally(() => this.#flushing = null);
    }
    return this.#flushing;
  }

  // Drops the chunk slots past the end of shrunk files, after one syncfs has made their shrunk
  // records durable (see FileData.truncate).
  async #trimShrunk(): Promise<void> {
    if (this.#toTrim.size === 0) return;
    const pending = [...this.#toTrim].map((node) => ({
      node,
      keep: node.trimTo,
      shrinks: node.shrinks,
    }));
    this.#toTrim.clear();
    await this.#table.syncData();
    for (const { node, keep, shrinks } of pending) {
      if (keep === null || node.deleted) continue;
      // Shrunk again since (its record not yet durable, and a record in between may cover more
      // than the size now): left whole for the next pass.
      if (node.shrinks !== shrinks) {
        this.#toTrim.add(node);
        continue;
      }
      node.trimTo = null;
      await this.#data.trim(node, keep).catch((e) => {
        if (e instanceof DamagedObjectError) this.#report(e);
        else if (!node.deleted && !node.gone) {
          // Closed under it, say: tried again by the next pass.
          node.trimTo = Math.min(node.trimTo ?? Infinity, keep);
          this.#toTrim.add(node);
        }
      });
    }
  }

  syncAll(): Promise<void> {
    return this.#io("sync", async () => {
      if (this.readOnly) return;
      const saveLinked = () =>
        this.#table.saveMany(this.#table.dirty().filter((n) => n.rec.nlink > 0));
      try {
        await this.#flushDirty();
        await saveLinked();
      } catch (e) {
        if ((e as { code?: string }).code !== "ENOSPC") throw e;
        // A full disk: removed files still waiting in the trash may be what fills it.
        await this.#trash.drain();
        await saveLinked();
      }
      // Records are replaced by rename without an fsync each; one syncfs makes all of it
      // durable at once.
      await this.#table.syncData();
      await this.#trimShrunk();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.syncAll();
      for (const node of this.#table.withContent()) await this.#data.closeContent(node);
      await this.#trash.drain();
    } finally {
      this.#closed = true;
      clearInterval(this.#timer);
      this.#keys.wipe();
      this.#lock.release();
    }
  }
}
