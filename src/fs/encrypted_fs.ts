/**
 * `EncryptedFs`: POSIX semantics over the encrypted store. Every operation of the FUSE mount and
 * of the path API lands here. See docs/format.md for what is on disk and docs/threat-model.md
 * for what that protects.
 *
 * A facade: it opens and closes the data dir and hands each operation, with its errors mapped to
 * errno (`FsCore.io`), to the part that does it: `Namespace` (lookup, create, link, unlink) and
 * `Renamer` over `EntryFiles` (where an inode lives), `OpenFiles` and `HandleTable`, `Listing`,
 * `Attributes`, `Flusher` (when records reach the disk) and `LookupPrefetcher`. The layout is in
 * docs/architecture.md.
 */
import type { CipherName } from "../crypto/aead.ts";
import type { KeyFileHeader } from "../store/keyfile.ts";
import { isSymlink } from "../store/inode_record.ts";
import { StoreKeys } from "../store/keys.ts";
import {
  createDataDir,
  type CreateOptions,
  inspectDataDir,
  type Secret,
  unlockDataDir,
} from "../store/datadir.ts";
import { DirLock } from "../../ffi/dirlock.ts";
import type { Lease } from "../util/lease.ts";
import { FsError, fsError } from "./errors.ts";
import { Attributes } from "./attributes.ts";
import { EntryFiles } from "./entry_files.ts";
import type { DormantEntries } from "./dormant_entries.ts";
import { Flusher } from "./flusher.ts";
import { FsCore } from "./fs_core.ts";
import type { Inode } from "./inode_table.ts";
import { HandleTable } from "./handles.ts";
import { Listing } from "./listing.ts";
import { Namespace } from "./namespace.ts";
import { OpenFiles } from "./open_files.ts";
import { CipherMismatchError, DamagedDataDirError, type OpenOptions } from "./open_options.ts";
import { LookupPrefetcher } from "./prefetch.ts";
import { Renamer } from "./rename.ts";
import { backingStatFs } from "./statfs.ts";
import {
  type Attr,
  type Caller,
  type DirEntry,
  ROOT_INO,
  type SetAttrChanges,
  type SetIdOptions,
  type StatFs,
  type ZeroCopyFileSystem,
} from "./types.ts";

export { CipherMismatchError, DamagedDataDirError, type OpenOptions } from "./open_options.ts";

/** The encrypted filesystem of one unlocked data dir. */
export class EncryptedFs implements ZeroCopyFileSystem {
  readonly readOnly: boolean;
  readonly header: KeyFileHeader;
  readonly #core: FsCore;
  readonly #lock: DirLock;
  readonly #flusher: Flusher;
  readonly #dormant: DormantEntries;
  readonly #handles = new HandleTable();
  readonly #names: Namespace;
  readonly #renamer: Renamer;
  readonly #files: OpenFiles;
  readonly #listing: Listing;
  readonly #attrs: Attributes;

  private constructor(
    root: string,
    keys: StoreKeys,
    header: KeyFileHeader,
    lock: DirLock,
    opts: OpenOptions,
  ) {
    this.#lock = lock;
    this.header = header;
    this.readOnly = opts.readOnly ?? false;
    const shrunk = new Set<Inode>();
    const core = new FsCore(root, keys, header, opts, () => lock.syncfs(), (n) => shrunk.add(n));
    this.#core = core;
    const entries = new EntryFiles(core);
    core.table.onEvicted = (node) => entries.evicted(node);
    this.#dormant = entries.dormant;
    const prefetch = new LookupPrefetcher(core.dirs);
    this.#names = new Namespace(core, entries, prefetch);
    this.#renamer = new Renamer(core, entries, this.#names);
    this.#attrs = new Attributes(core);
    this.#listing = new Listing(core, this.#handles, entries, prefetch);
    this.#flusher = new Flusher(core, shrunk, opts.flushIntervalMs);
    this.#files = new OpenFiles(core, this.#handles, this.#flusher, this.#attrs, this.#names);
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
      if (!fs.readOnly) await fs.#core.table.syncData();
      await fs.#core.table.get(ROOT_INO);
    } catch (e) {
      const what = e instanceof FsError && e.code === "ENOENT" ? "missing" : "damaged";
      const name = fs.#core.keys.objectName(ROOT_INO);
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

  // ------------------------------------------------------------------ lookups and attributes

  lookup(parent: bigint, name: Uint8Array): Promise<Attr> {
    const core = this.#core;
    return core.io("lookup", async () => core.attr(await this.#names.lookup(parent, name)));
  }

  getattr(ino: bigint): Promise<Attr> {
    const core = this.#core;
    return core.io("getattr", async () => core.attr(await core.table.get(ino)));
  }

  setattr(ino: bigint, ch: SetAttrChanges, _fh?: number): Promise<Attr> {
    const core = this.#core;
    return core.io("setattr", async () => core.attr(await this.#attrs.setattr(ino, ch)));
  }

  // ------------------------------------------------------------------ names

  mknod(
    parent: bigint,
    name: Uint8Array,
    mode: number,
    rdev: number,
    caller: Caller,
  ): Promise<Attr> {
    const core = this.#core;
    return core.io(
      "mknod",
      async () => core.attr(await this.#names.mknod(parent, name, mode, rdev, caller)),
    );
  }

  mkdir(parent: bigint, name: Uint8Array, mode: number, caller: Caller): Promise<Attr> {
    const core = this.#core;
    return core.io(
      "mkdir",
      async () => core.attr(await this.#names.mkdir(parent, name, mode, caller)),
    );
  }

  symlink(parent: bigint, name: Uint8Array, target: Uint8Array, caller: Caller): Promise<Attr> {
    const core = this.#core;
    return core.io(
      "symlink",
      async () => core.attr(await this.#names.symlink(parent, name, target, caller)),
    );
  }

  create(
    parent: bigint,
    name: Uint8Array,
    mode: number,
    _flags: number,
    caller: Caller,
  ): Promise<{ attr: Attr; fh: number }> {
    const core = this.#core;
    return core.io("create", async () => {
      const node = await this.#names.createFile(parent, name, mode, caller, true);
      return { attr: core.attr(node), fh: this.#handles.openFile(node) };
    });
  }

  link(ino: bigint, newParent: bigint, newName: Uint8Array): Promise<Attr> {
    const core = this.#core;
    return core.io(
      "link",
      async () => core.attr(await this.#names.link(ino, newParent, newName)),
    );
  }

  readlink(ino: bigint): Promise<Uint8Array> {
    return this.#core.io("readlink", async () => {
      const node = await this.#core.table.get(ino);
      if (!isSymlink(node.rec)) throw fsError("EINVAL");
      return node.rec.target.slice();
    });
  }

  unlink(parent: bigint, name: Uint8Array): Promise<void> {
    return this.#core.io("unlink", () => this.#names.remove(parent, name, false));
  }

  rmdir(parent: bigint, name: Uint8Array): Promise<void> {
    return this.#core.io("rmdir", () => this.#names.remove(parent, name, true));
  }

  rename(
    parent: bigint,
    name: Uint8Array,
    newParent: bigint,
    newName: Uint8Array,
    flags: number,
  ): Promise<void> {
    return this.#core.io(
      "rename",
      () => this.#renamer.rename(parent, name, newParent, newName, flags),
    );
  }

  // ------------------------------------------------------------------ open files

  open(ino: bigint, flags: number, opts: SetIdOptions = {}): Promise<number> {
    return this.#core.io("open", () => this.#files.open(ino, flags, opts));
  }

  read(ino: bigint, fh: number, offset: number, length: number): Promise<Uint8Array> {
    return this.#core.io("read", () => this.#files.read(ino, fh, offset, length));
  }

  /**
   * Like {@link read}, as consecutive pieces that are views of decrypted chunks (read-only;
   * they may share a buffer with other chunks), lent until the lease is released: for callers
   * that copy them out at once, such as the FUSE adapter, this saves a copy and an allocation
   * per read. Releasing the lease (once, after the last use of every piece) lets the buffers be
   * reused for later reads instead of piling up until the garbage collector runs; optional.
   */
  readPieces(ino: bigint, fh: number, offset: number, length: number): Promise<Lease> {
    return this.#core.io("read", () => this.#files.readPieces(ino, fh, offset, length));
  }

  /**
   * Lets go of memory kept for speed: the spare chunk buffers (about 33 MiB after streaming:
   * 16 write and 16 read images of 1 MiB, 16 single chunks).
   * For a caller that has gone idle; the next reads and writes allocate again.
   */
  trimMemory(): void {
    this.#core.keys.chunks.trim();
  }

  sharedBytes(): number {
    return this.#core.keys.chunks.sharedBytes;
  }

  /**
   * Up to `max` names whose inodes the kernel may be asked to forget (clean, closed, idle, in
   * the entry file of their one name): for a mount over its inode budget.
   */
  forgettable(max: number): { parent: bigint; name: Uint8Array }[] {
    return this.#core.table.forgettable(max).map((n) => ({
      parent: n.loc!.parent,
      name: n.loc!.name,
    }));
  }

  /**
   * A buffer for the data of a coming {@link write}, which that write may take over (the
   * buffer is then detached) instead of copying: for callers that fill a fresh buffer per
   * write anyway, such as the FUSE adapter. Its contents are undefined until filled.
   */
  writeBuffer(bytes: number): Uint8Array {
    return this.#core.data.writeBuffer(bytes);
  }

  write(
    ino: bigint,
    fh: number,
    offset: number,
    data: Uint8Array,
    opts: SetIdOptions = {},
  ): Promise<number> {
    const length = data.length; // data may be detached by the time the write is done
    return this.#core.io("write", async () => {
      await this.#files.write(ino, fh, offset, data, opts);
      return length;
    });
  }

  fallocate(
    ino: bigint,
    fh: number,
    offset: number,
    length: number,
    mode: number,
    opts: SetIdOptions = {},
  ): Promise<void> {
    return this.#core.io(
      "fallocate",
      () => this.#files.fallocate(ino, fh, offset, length, mode, opts),
    );
  }

  flush(ino: bigint, fh: number): Promise<void> {
    return this.#core.io("flush", () => this.#files.flush(ino, fh));
  }

  fsync(ino: bigint, fh: number, dataOnly: boolean): Promise<void> {
    return this.#core.io("fsync", () => this.#files.fsync(ino, fh, dataOnly));
  }

  release(ino: bigint, fh: number): Promise<void> {
    return this.#core.io("release", () => this.#files.release(ino, fh));
  }

  // ------------------------------------------------------------------ directories

  opendir(ino: bigint): Promise<number> {
    return this.#core.io("opendir", () => this.#listing.opendir(ino));
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
    return this.#core.io("readdir", () => this.#listing.readdir(ino, fh, offset, limit, plus));
  }

  releasedir(_ino: bigint, fh: number): Promise<void> {
    this.#handles.drop(fh);
    return Promise.resolve();
  }

  fsyncdir(ino: bigint, _fh: number): Promise<void> {
    return this.#core.io("fsyncdir", async () => {
      await this.#flusher.durable(await this.#core.table.get(ino), true);
    });
  }

  statfs(): Promise<StatFs> {
    return this.#core.io("statfs", () => backingStatFs(this.#core.root, this.header.chunkSize));
  }

  // ------------------------------------------------------------------ extended attributes

  getxattr(ino: bigint, name: string): Promise<Uint8Array> {
    return this.#core.io("getxattr", () => this.#attrs.getxattr(ino, name));
  }

  setxattr(ino: bigint, name: string, value: Uint8Array, flags: number): Promise<void> {
    return this.#core.io("setxattr", () => this.#attrs.setxattr(ino, name, value, flags));
  }

  listxattr(ino: bigint): Promise<string[]> {
    return this.#core.io("listxattr", () => this.#attrs.listxattr(ino));
  }

  removexattr(ino: bigint, name: string): Promise<void> {
    return this.#core.io("removexattr", () => this.#attrs.removexattr(ino, name));
  }

  // ------------------------------------------------------------------ references and shutdown

  retain(ino: bigint): void {
    const node = this.#core.table.peek(ino);
    if (node) node.lookups++;
  }

  forget(ino: bigint, n: number): void {
    const node = this.#core.table.peek(ino);
    if (!node) return;
    node.lookups = Math.max(0, node.lookups - n);
    this.#names.reapLater(node);
  }

  /**
   * How many inodes are in memory: live, and dormant (evicted, kept compactly so that their
   * names list and look up without a read). For diagnostics and tests.
   */
  cacheStats(): { liveInodes: number; dormantEntries: number } {
    return { liveInodes: this.#core.table.size, dormantEntries: this.#dormant.size };
  }

  syncAll(): Promise<void> {
    return this.#core.io("sync", () => this.#flusher.syncAll());
  }

  async close(): Promise<void> {
    const core = this.#core;
    if (core.closed) return;
    try {
      await this.syncAll();
      for (const node of core.table.withContent()) await core.data.closeContent(node);
      await core.trash.drain();
    } finally {
      core.closed = true;
      core.table.onEvicted = null;
      this.#dormant.clear();
      this.#flusher.stop();
      core.records.settleFolders();
      core.keys.wipe();
      this.#lock.release();
    }
  }
}
