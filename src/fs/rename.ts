/**
 * rename(2), with RENAME_NOREPLACE and RENAME_EXCHANGE, under the directory locks of the
 * namespace (both directories, in ascending inode order). An inode living in its entry file
 * moves with it (the file itself is renamed); an exchange first moves both inodes to their
 * object places, so that swapping the names rewrites two small pointer files.
 * @module
 */
import { isDir } from "../store/inode_record.ts";
import type { EntryFiles } from "./entry_files.ts";
import { fsError } from "./errors.ts";
import { checkName, type FsCore, nowNs } from "./fs_core.ts";
import type { Inode } from "./inode_table.ts";
import type { Namespace } from "./namespace.ts";
import { NAME_MAX, RENAME_EXCHANGE, RENAME_NOREPLACE, ROOT_INO, S_IFMT } from "./types.ts";

/** Moves names between (or within) directories. */
export class Renamer {
  readonly #core: FsCore;
  readonly #entries: EntryFiles;
  readonly #names: Namespace;

  constructor(core: FsCore, entries: EntryFiles, names: Namespace) {
    this.#core = core;
    this.#entries = entries;
    this.#names = names;
  }

  /** rename(2) of `name` in `parent` to `newName` in `newParent`. */
  async rename(
    parent: bigint,
    name: Uint8Array,
    newParent: bigint,
    newName: Uint8Array,
    flags: number,
  ): Promise<void> {
    this.#core.writable();
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) throw fsError("EINVAL");
    if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) throw fsError("EINVAL");
    checkName(newName);
    if (name.length > NAME_MAX) throw fsError("ENAMETOOLONG");
    // Counted whatever happens: a rename that failed half-way (an exchange's second entry,
    // a pointer's removal) changed names too.
    try {
      await this.#renameLocked(parent, name, newParent, newName, flags);
    } finally {
      this.#core.table.namespaceChanged();
    }
  }

  async #renameLocked(
    parent: bigint,
    name: Uint8Array,
    newParent: bigint,
    newName: Uint8Array,
    flags: number,
  ): Promise<void> {
    const core = this.#core;
    const entries = this.#entries;
    await this.#names.dirLocks.runAll([parent, newParent], async () => {
      const src = await core.dir(parent);
      const dst = await core.dir(newParent);
      const srcFolder = core.folder(parent);
      const dstFolder = core.folder(newParent);
      const a = await entries.entry(parent, srcFolder, name);
      const aNode = a && await entries.entryNode(parent, srcFolder, a);
      if (!a || !aNode) throw fsError("ENOENT");
      let b = await entries.entry(newParent, dstFolder, newName);
      // A dangling pointer (see EntryFiles.entryNode) is no name: it is simply replaced.
      const bFound = b && await entries.entryNode(newParent, dstFolder, b);
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
        if (entries.inEntry(aNode, parent, a)) await entries.toObject(aNode);
        if (entries.inEntry(bNode, newParent, b)) await entries.toObject(bNode);
        await core.dirs.put(newParent, dstFolder, newName, target(aNode));
        await core.dirs.put(parent, srcFolder, name, target(bNode));
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
          if (await entries.holdsNames(b.ino)) throw fsError("ENOTEMPTY");
        } else if (isDir(bNode.rec)) throw fsError("EISDIR");
      }
      const bInEntry = !!b && !!bNode && entries.inEntry(bNode, newParent, b);
      let saved = false;
      const move = async () => {
        if (entries.inEntry(aNode, parent, a)) {
          // The inode file itself moves (replacing whatever the new name held).
          aNode.rec.ctimeNs = now;
          await core.table.relocate(aNode, entries.loc(newParent, dstFolder, newName));
          if (aNode.loc) entries.remember(aNode.loc.file, aNode.ino);
          saved = true;
        } else {
          await core.dirs.put(newParent, dstFolder, newName, target(aNode));
          core.dirs.remove(parent, srcFolder, name);
        }
      };
      if (bNode && bInEntry) await entries.retire(bNode, "replace", move);
      else await move();
      if (bNode) {
        if (isDir(bNode.rec)) dst.rec.subdirs = Math.max(0, dst.rec.subdirs - 1);
        dst.rec.entries = Math.max(0, dst.rec.entries - 1);
      }
      await this.#moved(aNode, src, dst, now, saved);
      if (bNode) await this.#names.dropLink(bNode, now);
    });
  }

  // Bookkeeping after `node` moved from directory `from` to `to` (which may be the same).
  async #moved(node: Inode, from: Inode, to: Inode, now: bigint, saved = false): Promise<void> {
    const core = this.#core;
    core.touchDir(from, now);
    core.touchDir(to, now);
    if (from !== to) {
      from.rec.entries = Math.max(0, from.rec.entries - 1);
      to.rec.entries++;
      if (isDir(node.rec)) {
        node.rec.parent = to.ino;
        from.rec.subdirs = Math.max(0, from.rec.subdirs - 1);
        to.rec.subdirs++;
        // Link counts are written at once (see Namespace.#createNode).
        await core.save(from);
        await core.save(to);
      }
    }
    if (saved) return; // its record was just written, moved with it
    node.rec.ctimeNs = now;
    await core.save(node);
  }

  // EINVAL when directory `ino` is `target` or one of its ancestors (a move into itself).
  async #checkNotInside(ino: bigint, target: bigint): Promise<void> {
    let cur = target;
    for (let depth = 0; depth < 4096; depth++) {
      if (cur === ino) throw fsError("EINVAL", "cannot move a directory into itself");
      if (cur === ROOT_INO) return;
      cur = (await this.#core.table.get(cur)).rec.parent;
    }
    throw fsError("ELOOP");
  }
}
