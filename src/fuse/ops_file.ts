/**
 * Handlers for file I/O: create, open, read, write, flush, release, fsync, fallocate.
 *
 * @module
 */

import type { OpHandlers } from "../../ffi/fuse.ts";
import { copyCString } from "../../ffi/libc.ts";
import { hasZeroCopy, S_IFREG } from "../fs/types.ts";
import type { OpContext } from "./context.ts";
import { newMode } from "./ops_entry.ts";
import { readFh, readFileInfoBits, readOpenFlags } from "./reply.ts";
import { FileInfoBits } from "../../ffi/layouts.ts";
import { openClearsSetIds, writeClearsSetIds } from "./set_id_requests.ts";

const O_TRUNC = 0o1000;
const O_DIRECT = 0o40000;
const KEEP_SET_IDS = { clearSetIds: false } as const;

type FileOps = Pick<
  OpHandlers,
  "create" | "open" | "read" | "write" | "flush" | "release" | "fsync" | "fallocate"
>;

/** Builds the file-operation handlers for `c`. */
export function fileOps(c: OpContext): FileOps {
  const { fs, fuse } = c;
  // The buffer-lending calls when the filesystem has them; plain read/write otherwise.
  const zeroCopy = hasZeroCopy(fs) ? fs : null;
  const ignore = () => {};
  // With the writeback cache the kernel refreshes neither mode after a WRITE nor after an OPEN
  // that truncated: its copy must be dropped when set-ID bits were cleared.
  const stale = (ino: bigint) => () => void c.invalidateAttr(ino);
  return {
    create(req, parent, name, mode, fi) {
      const n = copyCString(name);
      const who = c.caller(req);
      const flags = c.openFlags(readOpenFlags(fi));
      const m = S_IFREG | newMode(mode, who.umask);
      c.run(req, "create", () => fs.create(parent, n, m, flags, who), ({ attr, fh }) => {
        const e = c.entry.fill(attr);
        const f = c.fileInfo.fill(fh, flags, c.fileOpen);
        c.retain(attr.ino);
        c.noteOpen(fh, attr.ino, flags);
        if (fuse.fuse_reply_create(req, e, f) !== 0) {
          // The creating syscall was interrupted: the kernel has neither the entry nor the handle.
          c.unretain(attr.ino);
          c.noteClosed(fh);
          fs.release(attr.ino, fh).catch(ignore);
        }
      });
    },

    open(req, ino, fi) {
      const flags = c.openFlags(readOpenFlags(fi));
      const clearSetIds = (flags & O_TRUNC) !== 0 && openClearsSetIds(c.request());
      const open = () => fs.open(ino, flags, { clearSetIds, onCleared: stale(ino) });
      const reply = (fh: number) => {
        // A writer is counted before the reply: no page store lands after its first write.
        c.noteOpen(fh, ino, flags);
        if (fuse.fuse_reply_open(req, c.fileInfo.fill(fh, flags, c.fileOpen)) !== 0) {
          c.noteClosed(fh);
          fs.release(ino, fh).catch(ignore);
        }
      };
      // Writing or truncating (O_TRUNC, with any access mode) changes the content.
      if ((flags & 0o3) !== 0 || (flags & O_TRUNC) !== 0) {
        c.runChanging(req, "open", ino, open, reply);
      } else c.run(req, "open", open, reply);
    },

    read(req, ino, size, off, fi) {
      const fh = readFh(fi);
      const n = Number(size);
      const at = Number(off);
      if (!zeroCopy) {
        c.run(req, "read", () => fs.read(ino, fh, at, n), (data) => {
          fuse.fuse_reply_iov(req, c.iovecs([data], n), 1);
        }, n);
        return;
      }
      const pages = c.pages;
      if (pages?.widens(ino, at, n) && (readOpenFlags(fi) & O_DIRECT) === 0 && !c.writing(ino)) {
        // A short read: the whole chunk is decrypted anyway, so the kernel gets all of it
        // (page_store.ts); the reply is the part asked for.
        const start = at - at % pages.chunk;
        const epoch = pages.epoch(ino);
        c.run(req, "read", () => zeroCopy.readPieces(ino, fh, start, pages.chunk), (lease) => {
          const pieces = lease.views;
          const asked = slicePieces(pieces, at - start, n);
          fuse.fuse_reply_iov(req, c.iovecs(asked, n), asked.length);
          pages.store(ino, start, pieces, epoch, c.writing(ino), () => lease.release());
        }, pages.chunk);
        return;
      }
      c.run(req, "read", () => zeroCopy.readPieces(ino, fh, at, n), (lease) => {
        // The pieces go to the kernel as they are (one writev): the kernel's copy into the
        // page cache is the only one, and it happens before fuse_reply_iov returns.
        const pieces = lease.views;
        fuse.fuse_reply_iov(req, c.iovecs(pieces, n), pieces.length);
        lease.release();
      }, n);
    },

    write(req, ino, buf, size, off, fi) {
      // The request buffer is reused for the next request: copy the data now, into a buffer
      // the store can hand to its chunk worker without copying it again (the write takes it).
      const len = Number(size);
      const data = zeroCopy ? zeroCopy.writeBuffer(len) : new Uint8Array(len);
      if (buf !== null && len > 0) Deno.UnsafePointerView.copyInto(buf, data);
      const fh = readFh(fi);
      if (readFileInfoBits(fi) & FileInfoBits.writepage) c.writeBackSeen = true;
      // Without the kernel's mark (a writeback flush, a caller with CAP_FSETID, or the kernel
      // clearing set-ID bits itself) the bits stay, as on a local filesystem.
      const clearSetIds = writeClearsSetIds(c.request());
      c.space.check().catch(ignore);
      const opts = clearSetIds ? { clearSetIds, onCleared: stale(ino) } : KEEP_SET_IDS;
      c.run(req, "write", () => fs.write(ino, fh, Number(off), data, opts), (n) => {
        fuse.fuse_reply_write(req, BigInt(n));
      }, len);
    },

    flush(req, ino, fi) {
      const fh = readFh(fi);
      c.runVoid(req, "flush", () => fs.flush(ino, fh));
    },

    release(req, ino, fi) {
      const fh = readFh(fi);
      c.noteClosed(fh);
      c.runVoid(req, "release", () => fs.release(ino, fh));
    },

    fsync(req, ino, datasync, fi) {
      const fh = readFh(fi);
      c.runVoid(req, "fsync", () => fs.fsync(ino, fh, datasync !== 0));
    },

    fallocate(req, ino, mode, offset, length, fi) {
      const fh = readFh(fi);
      // The kernel marks nothing here; clearing for callers other than root follows a local
      // filesystem, where fallocate(2) clears set-ID bits unless the caller has CAP_FSETID.
      const opts = { clearSetIds: c.caller(req).uid !== 0, onCleared: stale(ino) };
      c.runChanging(
        req,
        "fallocate",
        ino,
        () => fs.fallocate(ino, fh, Number(offset), Number(length), mode, opts),
        () => fuse.fuse_reply_err(req, 0),
      );
    },
  };
}

/** Views of the `len` bytes from `skip` on of the contiguous `pieces` (fewer at the end). */
function slicePieces(pieces: readonly Uint8Array[], skip: number, len: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const p of pieces) {
    if (len <= 0) break;
    if (skip >= p.length) {
      skip -= p.length;
      continue;
    }
    const v = p.subarray(skip, skip + len);
    out.push(v);
    len -= v.length;
    skip = 0;
  }
  return out;
}
