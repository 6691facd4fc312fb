/**
 * Entry-file placement: which inode a directory entry names, and where that inode lives. From
 * format 2 an inode with one name (not a directory) lives in its name's entry file; a second
 * name, or an exchange, moves it to its object place first, and the entry files become pointers.
 * This module reads entries (without reading a file whose inode is live), makes inodes live from
 * them, and moves or retires the entry file an inode lives in.
 * @module
 */
import type { StoredEntry } from "../store/dir_store.ts";
import { isRegular } from "../store/inode_record.ts";
import { DamagedObjectError, type LoadedRecord } from "../store/record_store.ts";
import { bytesEqual } from "../util/bytes.ts";
import { FsError } from "./errors.ts";
import { DormantEntries } from "./dormant_entries.ts";
import type { FsCore } from "./fs_core.ts";
import { dormantByteLimit } from "../util/memory_budget.ts";
import { type EntryLoc, type Inode, inodeCacheLimit } from "./inode_table.ts";
import { S_IFMT } from "./types.ts";

/** Reads directory entries and places the inodes they name. */
export class EntryFiles {
  readonly #core: FsCore;
  /**
   * Entry file name -> inode number, for inodes living in entry files that lookups and listings
   * made live: a hint only, trusted when the live inode's own location names that very file
   * (see #liveEntry). Bounded.
   */
  readonly #inEntries = new Map<string, bigint>();
  /** Evicted inodes that lived in entry files, for listings and lookups without a read. */
  readonly dormant = new DormantEntries(dormantByteLimit);

  constructor(core: FsCore) {
    this.#core = core;
  }

  /**
   * The inode an entry names: in the entry file itself, or the object it points at. Null for a
   * pointer whose inode file is missing or was never written: a power cut kept the pointer of a
   * creation and lost the inode file's bytes, so the name never existed (fsck removes it).
   */
  entryNode(parent: bigint, folder: string, e: StoredEntry): Promise<Inode | null> {
    if (!e.inline) return this.entryInode(e.ino, parent);
    return Promise.resolve(this.adopt(parent, folder, e, e.inline));
  }

  /** Whether `name` in `parent` names an inode (a dangling pointer does not). */
  async taken(parent: bigint, folder: string, name: Uint8Array): Promise<boolean> {
    const e = await this.entry(parent, folder, name);
    return !!e && (await this.entryNode(parent, folder, e)) !== null;
  }

  /** Makes the inode stored in entry file `e` of `parent` live (or returns the live one). */
  adopt(parent: bigint, folder: string, e: StoredEntry, rec: LoadedRecord): Inode {
    const node = this.#core.table.adopt(rec, this.loc(parent, folder, e.name, e.file));
    this.dormant.drop(e.file);
    this.remember(e.file, node.ino);
    return node;
  }

  /**
   * Inode `ino` now lives in entry file `file` (adopted from it, or just created there): the
   * next lookup of its name needs no read. Stale pairs are harmless (see {@link liveEntry}).
   */
  remember(file: string, ino: bigint): void {
    // Entries of at most twice as many entry files as live inodes are remembered: the inode
    // budget of the memory ceiling bounds both. Evictions and unlinks forget theirs, so this
    // cap only trims stale pairs (renames leave some), the oldest first: clearing them all
    // would send every live inode's next lookup to the disk.
    if (this.#inEntries.size >= 2 * inodeCacheLimit()) {
      let drop = Math.max(1, this.#inEntries.size >> 4);
      for (const k of this.#inEntries.keys()) {
        this.#inEntries.delete(k);
        if (--drop === 0) break;
      }
    }
    this.#inEntries.set(file, ino);
  }

  /** `node` is being evicted: its name is no longer answered live, but kept dormant. */
  evicted(node: Inode): void {
    this.#forget(node);
    try {
      this.dormant.stash(node);
    } catch {
      // Not kept: its name is read from its file again. Eviction itself must not fail.
    }
  }

  // Forgets the live pair of `node`'s entry file, if it is still that inode's.
  #forget(node: Inode): void {
    const file = node.loc?.file;
    if (file !== undefined && this.#inEntries.get(file) === node.ino) this.#inEntries.delete(file);
  }

  /**
   * Entry `name` of `parent`, without reading its file when a live inode lives in it: the
   * inode's location is kept exact by every rename, link and unlink of this mount, and its
   * in-memory record is newer than the file. `rm -r` otherwise read each entry file three
   * times (the listing, the kernel's LOOKUP, the UNLINK), often from disk again: the page
   * cache of a VM whose host reclaims idle pages (DAMON here) does not keep them for long.
   * Anything else (pointers, names not live) reads the file.
   */
  async entry(
    parent: bigint,
    folder: string,
    name: Uint8Array,
    file = this.#core.keys.entryName(parent, name),
  ): Promise<StoredEntry | null> {
    return this.liveEntry(parent, name, file) ?? this.dormantEntry(parent, name, file) ??
      await this.#core.dirs.get(parent, folder, name, file);
  }

  /** Entry `name` of `parent` (in entry file `file`) from a dormant inode, if it is one. */
  dormantEntry(parent: bigint, name: Uint8Array, file: string): StoredEntry | null {
    const e = this.dormant.get(parent, file);
    return e && bytesEqual(e.name, name) ? e : null;
  }

  /**
   * The entry from the live inode that lives in entry file `file` (of `parent` and `name`), if
   * any. An unlinked inode has no location and a deleted one is not live; the file name follows
   * from parent and name.
   */
  liveEntry(parent: bigint, name: Uint8Array, file: string): StoredEntry | null {
    const e = this.liveFile(parent, file);
    return e && bytesEqual(e.name, name) ? e : null;
  }

  /**
   * The entry from the live inode that lives in entry file `file` of `parent`, if any: what a
   * listing would read from that file, since the live record is never older than the file.
   */
  liveFile(parent: bigint, file: string): StoredEntry | null {
    const ino = this.#inEntries.get(file);
    if (ino === undefined) return null;
    const node = this.#core.table.peek(ino);
    const loc = node?.loc;
    if (!node || !loc || loc.parent !== parent || loc.file !== file) {
      this.#inEntries.delete(file);
      return null;
    }
    node.touched = performance.now();
    const inline = {
      rec: node.rec,
      slot: node.durability.slot,
      slotSize: node.slotSize,
      name: loc.name,
    };
    return { ino, type: node.rec.mode & S_IFMT, name: loc.name, file, inline };
  }

  /** The location of entry `name` of `parent` (in `folder`). */
  loc(parent: bigint, folder: string, name: Uint8Array, file?: string): EntryLoc {
    return {
      parent,
      name: name.slice(),
      folder,
      file: file ?? this.#core.keys.entryName(parent, name),
    };
  }

  /** Whether `node` lives in entry file `e` (format 2). */
  inEntry(node: Inode, parent: bigint, e: StoredEntry): boolean {
    return !!e.inline && node.loc?.parent === parent && node.loc.file === e.file;
  }

  /**
   * The entry file holding `node` is about to go (`remove` unlinks or replaces it). Under the
   * inode's save lock, so no record write lands in whatever takes that path next. While the
   * kernel or an open handle still refers to the inode (an open() may be on its way), its file
   * is kept in the trash as its backing file until the inode is deleted.
   */
  async retire(node: Inode, how: "unlink" | "replace", remove: () => Promise<void> | void) {
    await node.saveLock.run(async () => {
      const path = this.#core.table.path(node);
      if (node.referenced && isRegular(node.rec)) {
        node.durability.kept(this.#core.trash.hold(path, how === "unlink" ? "rename" : "link"));
      }
      if (how === "replace" || !node.durability.keptPath) {
        try {
          await remove();
        } catch (e) {
          this.#removeFailed(node, path);
          throw e;
        }
      }
      this.detach(node);
    });
  }

  // `remove` failed after the inode's file was kept in the trash (a rename over it that did not
  // happen, say). A kept link left on an inode that still lives in its entry file would later
  // stand in for that file: an unlink would take the link and leave the entry file, the name
  // still there. So while the entry file is still the inode's, the link goes again; if the entry
  // file was replaced all the same, the inode has lost it.
  #removeFailed(node: Inode, path: string): void {
    const kept = node.durability.keptPath;
    if (kept === null) return;
    if (sameFile(path, kept)) {
      node.durability.takeKept();
      this.#core.trash.release(kept);
    } else this.detach(node);
  }

  /**
   * Moves an inode out of its entry file into its object place (before a second name or an
   * exchange): hard link first, then, under the same save lock, the entry file becomes a
   * pointer (undone if that fails).
   */
  async toObject(node: Inode): Promise<void> {
    const loc = node.loc;
    if (!loc) return;
    await this.#core.table.relocate(
      node,
      null,
      () =>
        this.#core.dirs.put(loc.parent, loc.folder, loc.name, {
          ino: node.ino,
          type: node.rec.mode & S_IFMT,
        }),
    );
    this.#core.table.namespaceChanged();
  }

  /**
   * The entry file holding `node` was unlinked or replaced: it lives on in memory (and in its
   * open descriptor) only, with nothing on disk left to delete.
   */
  detach(node: Inode): void {
    this.#forget(node);
    node.loc = null;
    node.durability.unlinkedEntry();
  }

  /**
   * The inode a pointer entry names; null (reported once) when its inode file is missing or was
   * never written.
   */
  async entryInode(ino: bigint, parent: bigint): Promise<Inode | null> {
    try {
      return await this.#core.table.get(ino);
    } catch (e) {
      if (e instanceof FsError && e.code === "ENOENT") {
        this.#core.report(
          new DamagedObjectError(
            this.#core.folder(parent),
            `an entry points at inode file ${this.#core.keys.objectName(ino)}.m, missing or ` +
              "never written (a creation cut short; the name reads as absent, fsck --repair " +
              "removes it)",
          ),
        );
        return null;
      }
      throw e;
    }
  }

  /**
   * Whether directory `ino` holds a name. What a power cut leaves of creations (dangling
   * pointers, entry files never written; see entryNode) names nothing, and is removed with the
   * directory's folder; a damaged entry counts (fsck decides what it was).
   */
  async holdsNames(ino: bigint): Promise<boolean> {
    const core = this.#core;
    const folder = core.folder(ino);
    if (await core.dirs.isEmpty(folder)) return false;
    const files = await core.dirs.names(folder);
    for (let i = 0; i < files.length; i += 32) {
      let damaged = false;
      const entries = await core.dirs.read(ino, folder, files.slice(i, i + 32), (e) => {
        damaged = true;
        core.report(e);
      });
      if (damaged) return true;
      for (const e of entries) {
        if (e && (e.inline || await this.entryInode(e.ino, ino))) return true;
      }
    }
    return false;
  }
}

// Whether `a` and `b` name the same file (false if either is missing).
function sameFile(a: string, b: string): boolean {
  try {
    const x = Deno.lstatSync(a);
    const y = Deno.lstatSync(b);
    return x.ino !== null && x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}
