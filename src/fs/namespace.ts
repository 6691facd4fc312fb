/**
 * The namespace: looking up, creating, linking and removing names, and deleting an inode once no
 * name and no reference is left. Renames are in rename.ts, over the same directory locks.
 *
 * Crash safety of names: an object exists on disk before anything names it (`createNode`,
 * `link`, and rename.ts), a link count goes up on disk before the new name exists, and every
 * change of names on disk is counted (`InodeTable.namespaceChanged`) so that `fsync` knows when
 * a syncfs is due (`Flusher.durable`).
 * @module
 */
import { type InodeRecord, isDir, isRegular } from "../store/inode_record.ts";
import { KeyedMutex } from "../util/mutex.ts";
import type { EntryFiles } from "./entry_files.ts";
import { fsError } from "./errors.ts";
import { checkName, type FsCore, NO_ENTRY, nowNs, randomIno } from "./fs_core.ts";
import type { Inode } from "./inode_table.ts";
import type { LookupPrefetcher } from "./prefetch.ts";
import { type Caller, NAME_MAX, ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from "./types.ts";

/** link(): the file moved to another directory while the locks were being taken. */
const MOVED = Symbol("moved");
function throwMoved(): never {
  throw fsError("EAGAIN", "the file kept moving to other directories");
}
const SYMLINK_MAX = 4095;

/** Names of directories: lookup, create, link, unlink, rmdir, and inode deletion. */
export class Namespace {
  /**
   * One lock per directory inode, held while creating, linking, removing and renaming its
   * names. Outermost of the lock order (src/util/mutex.ts, docs/architecture.md): taken before
   * any inode's locks; several in ascending inode order (`runAll`).
   */
  readonly dirLocks = new KeyedMutex<bigint>();
  readonly #core: FsCore;
  readonly #entries: EntryFiles;
  readonly #prefetch: LookupPrefetcher;

  constructor(core: FsCore, entries: EntryFiles, prefetch: LookupPrefetcher) {
    this.#core = core;
    this.#entries = entries;
    this.#prefetch = prefetch;
  }

  /** The inode `name` of directory `parent` names ("." and ".." included). */
  async lookup(parent: bigint, name: Uint8Array): Promise<Inode> {
    const core = this.#core;
    if (name.length > NAME_MAX) throw fsError("ENAMETOOLONG");
    const dir = await core.dir(parent);
    if (name.length === 1 && name[0] === 0x2e) return dir;
    if (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e) {
      return await core.table.get(dir.rec.parent || ROOT_INO);
    }
    const file = core.keys.entryName(parent, name);
    const live = this.#entries.liveEntry(parent, name, file);
    if (live) return core.table.peek(live.ino)!;
    const folder = core.folder(parent);
    const entry = await this.#entries.entry(parent, folder, name, file);
    const node = entry && await this.#entries.entryNode(parent, folder, entry);
    if (!node) throw NO_ENTRY;
    this.#prefetch.notePositiveLookup(parent, folder);
    return node;
  }

  // ------------------------------------------------------------------ creating names

  async #createNode(
    parent: bigint,
    name: Uint8Array,
    mode: number,
    caller: Caller,
    init: (rec: InodeRecord) => void,
    open = false,
  ): Promise<Inode> {
    const core = this.#core;
    core.writable();
    checkName(name);
    return await this.dirLocks.run(parent, async () => {
      const dir = await core.dir(parent);
      if (dir.rec.nlink === 0) throw fsError("ENOENT", "directory was removed");
      const folder = core.folder(parent);
      // A non-directory of format 2 lives in its entry file, made with O_EXCL: that open is the
      // check that the name is free, and the entry file is read only when it fails.
      const inline = (mode & S_IFMT) !== S_IFDIR && core.inline;
      if (!inline && await this.#entries.taken(parent, folder, name)) throw fsError("EEXIST");
      const now = nowNs();
      const rec = core.newRecord(randomIno(), mode, caller, now);
      // A set-group-ID directory passes its group on, and its S_ISGID to subdirectories.
      if (dir.rec.mode & 0o2000) {
        rec.gid = dir.rec.gid;
        if ((mode & S_IFMT) === S_IFDIR) rec.mode |= 0o2000;
      }
      init(rec);
      const type = rec.mode & S_IFMT;
      let node: Inode;
      if (inline) {
        // One file: the entry file is the inode file, created in place under its name, or (when
        // a file is there: debris a crash left, which names nothing) whole by rename over it.
        const loc = this.#entries.loc(parent, folder, name);
        const place = core.records.entryPlace(parent, folder, loc.file);
        // A file made to be opened keeps its descriptor for its content (`open`).
        const made = await core.records.createEntry(rec, place, name, open);
        let slotSize = made?.slotSize;
        if (slotSize === undefined) {
          if (await this.#entries.taken(parent, folder, name)) throw fsError("EEXIST");
          slotSize = await core.records.create(rec, place, { name });
        }
        node = core.table.add(rec, slotSize, loc);
        this.#entries.remember(loc.file, node.ino);
        if (made?.fd != null) core.data.adoptContent(node, made.fd, made.size);
      } else {
        // Order for crash safety: the child exists on disk before any entry points at it.
        if (type === S_IFDIR) core.dirs.createFolder(core.folder(rec.ino));
        const slotSize = await core.records.create(rec, core.records.objectPlace(rec.ino));
        await core.dirs.putNew(parent, folder, name, { ino: rec.ino, type });
        node = core.table.add(rec, slotSize);
      }
      core.table.namespaceChanged();
      dir.rec.entries++;
      core.touchDir(dir, now);
      // The parent's link count (2 + subdirectories) is written at once, not by the next flush:
      // a crash must not leave it wrong.
      if (type === S_IFDIR) {
        dir.rec.subdirs++;
        await core.save(dir);
      }
      return node;
    });
  }

  /** mknod(2): a regular file, device, FIFO or socket. */
  mknod(
    parent: bigint,
    name: Uint8Array,
    mode: number,
    rdev: number,
    caller: Caller,
  ): Promise<Inode> {
    const type = mode & S_IFMT;
    if (type === S_IFDIR || type === S_IFLNK) throw fsError("EINVAL");
    const m = type === 0 ? S_IFREG | (mode & 0o7777) : mode;
    return this.#createNode(parent, name, m, caller, (r) => r.rdev = rdev);
  }

  /** mkdir(2). */
  mkdir(parent: bigint, name: Uint8Array, mode: number, caller: Caller): Promise<Inode> {
    return this.#createNode(parent, name, S_IFDIR | (mode & 0o7777), caller, (r) => {
      r.parent = parent;
      r.nlink = 2;
    });
  }

  /** symlink(2). */
  symlink(parent: bigint, name: Uint8Array, target: Uint8Array, caller: Caller): Promise<Inode> {
    if (target.length === 0) throw fsError("ENOENT");
    if (target.length > SYMLINK_MAX) throw fsError("ENAMETOOLONG");
    return this.#createNode(parent, name, S_IFLNK | 0o777, caller, (r) => {
      r.target = target.slice();
      r.size = target.length;
    });
  }

  /**
   * A new regular file (creat(2), before it is opened). With `open`, a handle on it follows:
   * its content file is then left open from the creation.
   */
  createFile(
    parent: bigint,
    name: Uint8Array,
    mode: number,
    caller: Caller,
    open = false,
  ): Promise<Inode> {
    return this.#createNode(parent, name, S_IFREG | (mode & 0o7777), caller, () => {}, open);
  }

  /** link(2): a new name `newName` in `newParent` for inode `ino`. */
  async link(ino: bigint, newParent: bigint, newName: Uint8Array): Promise<Inode> {
    this.#core.writable();
    checkName(newName);
    // The directory holding the inode's entry file is locked too: the file moves. A rename
    // to another directory between reading its place and taking the locks: try again.
    for (let attempt = 0;; attempt++) {
      const r = await this.#link(ino, newParent, newName);
      if (r !== MOVED || attempt >= 8) return r === MOVED ? throwMoved() : r;
    }
  }

  async #link(ino: bigint, newParent: bigint, newName: Uint8Array): Promise<Inode | typeof MOVED> {
    const core = this.#core;
    const first = await core.table.get(ino);
    const locks = [newParent, first.loc?.parent ?? newParent];
    return await this.dirLocks.runAll(locks, async () => {
      const node = await core.table.get(ino);
      if (isDir(node.rec)) throw fsError("EPERM", "hard link to a directory");
      if (node.rec.nlink === 0) throw fsError("ENOENT");
      if (node.loc && !locks.includes(node.loc.parent)) return MOVED;
      const dir = await core.dir(newParent);
      const folder = core.folder(newParent);
      if (await this.#entries.taken(newParent, folder, newName)) throw fsError("EEXIST");
      const now = nowNs();
      node.rec.nlink++;
      node.rec.ctimeNs = now;
      // The count goes up on disk before the entry exists (even if that costs a syncfs): a
      // crash leaves a count too high, never a name pointing at a deleted inode. An inode in
      // its entry file moves to its object place first (with the new count).
      try {
        if (node.loc) await this.#entries.toObject(node);
        else await core.table.save(node, { durable: true, force: true });
      } catch (e) {
        node.rec.nlink--;
        throw e;
      }
      await core.dirs.put(newParent, folder, newName, {
        ino,
        type: node.rec.mode & S_IFMT,
      });
      core.table.namespaceChanged();
      dir.rec.entries++;
      core.touchDir(dir, now);
      return node;
    });
  }

  // ------------------------------------------------------------------ removing names

  /** unlink(2) (`wantDir` false) or rmdir(2) (`wantDir` true). */
  async remove(parent: bigint, name: Uint8Array, wantDir: boolean): Promise<void> {
    const core = this.#core;
    const entries = this.#entries;
    core.writable();
    if (name.length > NAME_MAX) throw fsError("ENAMETOOLONG");
    if (name.length <= 2 && name.length > 0 && name.every((b) => b === 0x2e)) {
      throw fsError(wantDir ? (name.length === 1 ? "EINVAL" : "ENOTEMPTY") : "EISDIR");
    }
    await this.dirLocks.run(parent, async () => {
      const dir = await core.dir(parent);
      const folder = core.folder(parent);
      const entry = await entries.entry(parent, folder, name);
      const node = entry && await entries.entryNode(parent, folder, entry);
      if (!entry) throw fsError("ENOENT");
      if (!node) {
        // A dangling pointer (see EntryFiles.entryNode) names nothing, but would keep its
        // directory from ever being empty: removing it (under the directory's lock, so it is
        // not a name made meanwhile) lets `rm -r` finish. Whatever its lost inode held is left
        // for fsck.
        core.dirs.remove(parent, folder, name);
        core.table.namespaceChanged();
        throw fsError("ENOENT");
      }
      const isDirectory = isDir(node.rec);
      if (wantDir && !isDirectory) throw fsError("ENOTDIR");
      if (!wantDir && isDirectory) throw fsError("EISDIR");
      if (isDirectory && await entries.holdsNames(node.ino)) {
        throw fsError("ENOTEMPTY");
      }
      const remove = () => core.dirs.remove(parent, folder, name);
      if (entries.inEntry(node, parent, entry)) await entries.retire(node, "unlink", remove);
      else remove();
      core.table.namespaceChanged();
      const now = nowNs();
      dir.rec.entries = Math.max(0, dir.rec.entries - 1);
      core.touchDir(dir, now);
      if (isDirectory) {
        dir.rec.subdirs = Math.max(0, dir.rec.subdirs - 1);
        await core.save(dir);
      }
      await this.dropLink(node, now);
    });
  }

  /** One name of `node` is gone: count it, and delete the inode once nothing refers to it. */
  async dropLink(node: Inode, now: bigint): Promise<void> {
    node.rec.nlink = isDir(node.rec) ? 0 : Math.max(0, node.rec.nlink - 1);
    node.rec.ctimeNs = now;
    if (node.rec.nlink === 0) {
      // No name points at it any more: it lives on in memory while referenced (open, or known
      // to the kernel) and is deleted after; writing its record meanwhile would be wasted.
      node.durability.unnamed();
      if (!node.referenced) await this.#delete(node);
      else if (!node.durability.gone) await this.#orphan(node);
    } else {
      await this.#core.save(node);
    }
  }

  // An inode in its object place lost its last name while still referenced: its objects leave
  // the tree now, not when the kernel forgets it, so a crash meanwhile leaves no orphan behind
  // (the trash is emptied at the next open). A regular file keeps its file there for reading.
  async #orphan(node: Inode): Promise<void> {
    const core = this.#core;
    await node.saveLock.run(() => {
      if (node.durability.deleted || node.durability.gone) return;
      if (isRegular(node.rec)) {
        node.durability.kept(core.trash.hold(core.table.path(node), "rename"));
      } else core.records.remove(node.ino, isDir(node.rec));
      this.#entries.detach(node);
      core.table.namespaceChanged();
    });
  }

  async #delete(node: Inode): Promise<void> {
    await this.#core.data.closeContent(node);
    await this.#core.table.delete(node);
  }

  /** Deletes an unlinked inode whose last reference just went away (in the background). */
  reapLater(node: Inode): void {
    if (node.rec.nlink !== 0 || node.referenced || this.#core.readOnly) return;
    this.#delete(node).catch(() => {});
  }
}
