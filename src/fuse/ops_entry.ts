/**
 * Handlers for the inode and name operations: lookup, forget, attributes, node creation,
 * removal, rename, links, statfs and access.
 *
 * @module
 */

import type { OpHandlers } from "../../ffi/fuse.ts";
import { ForgetData, Libc, SetAttr, Stat } from "../../ffi/layouts.ts";
import { copyCString, cString } from "../../ffi/libc.ts";
import { Errno, fsError } from "../fs/errors.ts";
import {
  type Attr,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  S_IFDIR,
  S_IFMT,
  type SetAttrChanges,
} from "../fs/types.ts";
import type { OpContext } from "./context.ts";
import { readFh, readTime } from "./reply.ts";

type EntryOps = Pick<
  OpHandlers,
  | "lookup"
  | "forget"
  | "forget_multi"
  | "getattr"
  | "setattr"
  | "readlink"
  | "mknod"
  | "mkdir"
  | "unlink"
  | "rmdir"
  | "symlink"
  | "rename"
  | "link"
  | "statfs"
  | "access"
>;

/** Permission bits of a new node: the requested ones minus the caller's umask. */
export function newMode(mode: number, umask: number): number {
  return mode & 0o7777 & ~umask;
}

/** Decodes setattr's `struct stat` + `to_set` bits into {@link SetAttrChanges}. */
export function decodeSetAttr(attr: Deno.PointerValue, toSet: number): SetAttrChanges {
  const c: SetAttrChanges = {};
  if (attr === null) return c;
  const view = new DataView(Deno.UnsafePointerView.getArrayBuffer(attr, Stat.size));
  if (toSet & SetAttr.MODE) c.mode = view.getUint32(Stat.mode, true) & 0o7777;
  if (toSet & SetAttr.UID) c.uid = view.getUint32(Stat.uid, true);
  if (toSet & SetAttr.GID) c.gid = view.getUint32(Stat.gid, true);
  if (toSet & SetAttr.SIZE) c.size = Number(view.getBigInt64(Stat.size_, true));
  if (toSet & SetAttr.ATIME_NOW) c.atime = "now";
  else if (toSet & SetAttr.ATIME) c.atime = readTime(view, Stat.atimSec);
  if (toSet & SetAttr.MTIME_NOW) c.mtime = "now";
  else if (toSet & SetAttr.MTIME) c.mtime = readTime(view, Stat.mtimSec);
  if (toSet & SetAttr.CTIME) c.ctime = readTime(view, Stat.ctimSec);
  // FATTR_KILL_SUIDGID, under FUSE_HANDLE_KILLPRIV_V2 (set_id_requests.ts).
  if (toSet & SetAttr.KILL_SUID) c.clearSetIds = true;
  return c;
}

/**
 * access(2) semantics of a local filesystem: owner, then group (primary or supplementary), then
 * other bits; root passes everything except execute, which needs some x bit on a non-directory.
 */
export function accessAllowed(attr: Attr, uid: number, gids: number[], mask: number): boolean {
  const want = mask & (Libc.R_OK | Libc.W_OK | Libc.X_OK);
  if (want === 0) return true;
  if (uid === 0) {
    if (!(want & Libc.X_OK)) return true;
    return (attr.mode & S_IFMT) === S_IFDIR || (attr.mode & 0o111) !== 0;
  }
  let bits: number;
  if (uid === attr.uid) bits = (attr.mode >> 6) & 7;
  else if (gids.includes(attr.gid)) bits = (attr.mode >> 3) & 7;
  else bits = attr.mode & 7;
  return (bits & want) === want;
}

/** Builds the entry-operation handlers for `c`. */
export function entryOps(c: OpContext): EntryOps {
  const { fs, fuse } = c;
  return {
    lookup(req, parent, name) {
      const n = copyCString(name);
      c.run(req, "lookup", () => fs.lookup(parent, n), (a) => c.replyEntry(req, a));
    },

    forget(req, ino, nlookup) {
      c.unretain(ino, Number(nlookup));
      fuse.fuse_reply_none(req);
    },

    forget_multi(req, count, forgets) {
      const n = Number(count);
      if (forgets !== null && n > 0) {
        const v = new DataView(Deno.UnsafePointerView.getArrayBuffer(forgets, n * ForgetData.size));
        for (let i = 0; i < n; i++) {
          const at = i * ForgetData.size;
          c.unretain(
            v.getBigUint64(at + ForgetData.ino, true),
            Number(v.getBigUint64(at + ForgetData.nlookup, true)),
          );
        }
      }
      fuse.fuse_reply_none(req);
    },

    getattr(req, ino, fi) {
      // With its handle, from write() under the writeback cache (and lseek, reads past the
      // cached end): a handle open for writing gets ENOSPC once the disk is at its floor.
      const writing = fi !== null && c.writers.has(readFh(fi));
      c.run(req, "getattr", async () => {
        if (writing && await c.space.refuse()) {
          throw fsError("ENOSPC", "the backing disk is full");
        }
        return await fs.getattr(ino);
      }, (a) => c.replyAttr(req, a));
    },

    setattr(req, ino, attr, toSet, fi) {
      const changes = decodeSetAttr(attr, toSet);
      const fh = fi === null ? undefined : readFh(fi);
      const set = () => fs.setattr(ino, changes, fh);
      const reply = (a: Attr) => c.replyAttr(req, a);
      // A size change is a change of the content (page_store.ts).
      if (changes.size !== undefined) c.runChanging(req, "setattr", ino, set, reply);
      else c.run(req, "setattr", set, reply);
    },

    readlink(req, ino) {
      c.run(req, "readlink", () => fs.readlink(ino), (t) => {
        fuse.fuse_reply_readlink(req, cString(t));
      });
    },

    mknod(req, parent, name, mode, rdev) {
      const n = copyCString(name);
      const who = c.caller(req);
      const m = (mode & S_IFMT) | newMode(mode, who.umask);
      c.run(
        req,
        "mknod",
        () => fs.mknod(parent, n, m, Number(rdev), who),
        (a) => c.replyEntry(req, a),
      );
    },

    mkdir(req, parent, name, mode) {
      const n = copyCString(name);
      const who = c.caller(req);
      const m = S_IFDIR | newMode(mode, who.umask);
      c.run(req, "mkdir", () => fs.mkdir(parent, n, m, who), (a) => c.replyEntry(req, a));
    },

    unlink(req, parent, name) {
      const n = copyCString(name);
      c.runVoid(req, "unlink", () => fs.unlink(parent, n));
    },

    rmdir(req, parent, name) {
      const n = copyCString(name);
      c.runVoid(req, "rmdir", () => fs.rmdir(parent, n));
    },

    symlink(req, link, parent, name) {
      const target = copyCString(link);
      const n = copyCString(name);
      const who = c.caller(req);
      c.run(
        req,
        "symlink",
        () => fs.symlink(parent, n, target, who),
        (a) => c.replyEntry(req, a),
      );
    },

    rename(req, parent, name, newParent, newName, flags) {
      const n = copyCString(name);
      const nn = copyCString(newName);
      c.runVoid(req, "rename", () => {
        // RENAME_WHITEOUT and unknown bits: not supported, like most non-overlay filesystems.
        if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) throw fsError("EINVAL");
        return fs.rename(parent, n, newParent, nn, flags);
      });
    },

    link(req, ino, newParent, newName) {
      const nn = copyCString(newName);
      c.run(req, "link", () => fs.link(ino, newParent, nn), (a) => c.replyEntry(req, a));
    },

    statfs(req, _ino) {
      c.run(req, "statfs", () => fs.statfs(), (s) => {
        fuse.fuse_reply_statfs(req, c.statvfs.fill(s));
      });
    },

    access(req, ino, mask) {
      // Sent only to mounts without "default_permissions" (root's private ones, see
      // needsModeChecks); with it the kernel checks the mode bits itself.
      const who = c.caller(req);
      const gids = [who.gid, ...c.groups(req)];
      c.run(req, "access", () => fs.getattr(ino), (a) => {
        fuse.fuse_reply_err(req, accessAllowed(a, who.uid, gids, mask) ? 0 : Errno.EACCES);
      });
    },
  };
}
