/**
 * Handlers for directory listing: opendir, readdir, readdirplus, releasedir, fsyncdir.
 *
 * @module
 */

import type { OpHandlers } from "../../ffi/fuse.ts";
import { cString } from "../../ffi/libc.ts";
import { Errno, FsError } from "../fs/errors.ts";
import type { Attr, DirEntry } from "../fs/types.ts";
import type { OpContext } from "./context.ts";
import { readFh } from "./reply.ts";

type DirOps = Pick<
  OpHandlers,
  "opendir" | "readdir" | "readdirplus" | "releasedir" | "fsyncdir"
>;

/** Smallest `fuse_dirent` (24-byte header + name padded to 8). */
const MIN_DIRENT = 32;
/** Smallest `fuse_direntplus` (128-byte `fuse_entry_out` + the dirent). */
const MIN_DIRENTPLUS = 160;

/**
 * Entries in the first reply of a listing (offset 0). Each entry costs an entry-file read, and
 * a reader often wants only the first few: `rm -r` opens every directory once just to see
 * whether it is empty (one getdents), then again to list it; a 128 KiB reply would read and
 * decrypt up to ~800 entries for that check alone. Later replies fill the buffer.
 */
export const FIRST_REPLY_ENTRIES = 32;

/** Most entries a reply of `cap` bytes at cookie `off` asks for (see FIRST_REPLY_ENTRIES). */
export function replyEntries(cap: number, minEntry: number, off: bigint): number {
  const fit = Math.max(1, Math.floor(cap / minEntry));
  return off === 0n ? Math.min(fit, FIRST_REPLY_ENTRIES + 2) : fit;
}

/** True for "." and "..", which readdirplus must not count as lookups. */
export function isDotOrDotDot(name: Uint8Array): boolean {
  return name[0] === 0x2e && (name.length === 1 || (name.length === 2 && name[1] === 0x2e));
}

/** Builds the directory-operation handlers for `c`. */
export function dirOps(c: OpContext): DirOps {
  const { fs, fuse } = c;

  /**
   * getattr for every entry but "." / ".."; entries that vanished meanwhile are dropped. An
   * entry whose inode cannot be read (damaged) is listed without attributes (no lookup), so one
   * bad file never fails its whole directory: a stat of it reports the error.
   */
  async function withAttrs(entries: DirEntry[]): Promise<[DirEntry, Attr | null][]> {
    const out = await Promise.all(
      entries.map(async (e): Promise<[DirEntry, Attr | null] | null> => {
        if (isDotOrDotDot(e.name)) return [e, null];
        try {
          return [e, await fs.getattr(e.ino)];
        } catch (err) {
          if (!(err instanceof FsError)) throw err;
          return err.errno === Errno.ENOENT ? null : [e, null];
        }
      }),
    );
    return out.filter((x): x is [DirEntry, Attr | null] => x !== null);
  }

  return {
    opendir(req, ino, _fi) {
      c.run(req, "opendir", () => fs.opendir(ino), (fh) => {
        if (fuse.fuse_reply_open(req, c.fileInfo.fill(fh, 0, c.dirOpen)) !== 0) {
          fs.releasedir(ino, fh).catch(() => {});
        }
      });
    },

    readdir(req, ino, size, off, fi) {
      const fh = readFh(fi);
      const cap = Number(size);
      const limit = replyEntries(cap, MIN_DIRENT, off);
      c.run(req, "readdir", () => fs.readdir(ino, fh, off, limit), (entries) => {
        const buf = new Uint8Array(cap);
        let pos = 0;
        for (const e of entries) {
          const room = cap - pos;
          const st = c.stat.fillDirent(e.ino, e.type);
          const need = Number(
            fuse.fuse_add_direntry(
              req,
              buf.subarray(pos),
              BigInt(room),
              cString(e.name),
              st,
              e.next,
            ),
          );
          if (need > room) break;
          pos += need;
        }
        fuse.fuse_reply_buf(req, buf, BigInt(pos));
      });
    },

    readdirplus(req, ino, size, off, fi) {
      const fh = readFh(fi);
      const cap = Number(size);
      const limit = replyEntries(cap, MIN_DIRENTPLUS, off);
      c.run(
        req,
        "readdirplus",
        async () => withAttrs(await fs.readdir(ino, fh, off, limit, true)),
        (entries) => {
          const buf = new Uint8Array(cap);
          const counted: bigint[] = [];
          let pos = 0;
          for (const [e, attr] of entries) {
            const room = cap - pos;
            // "." and ".." (and damaged entries): attributes only for the dirent's ino/type,
            // node id 0 = no lookup.
            const ep = attr === null ? c.entry.fill(dotAttr(e), 0n) : c.entry.fill(attr);
            const need = Number(
              fuse.fuse_add_direntry_plus(
                req,
                buf.subarray(pos),
                BigInt(room),
                cString(e.name),
                ep,
                e.next,
              ),
            );
            if (need > room) break;
            pos += need;
            if (attr !== null) {
              c.retain(attr.ino);
              counted.push(attr.ino);
            }
          }
          if (fuse.fuse_reply_buf(req, buf, BigInt(pos)) !== 0) {
            for (const i of counted) c.unretain(i);
          }
        },
      );
    },

    releasedir(req, ino, fi) {
      const fh = readFh(fi);
      c.runVoid(req, "releasedir", () => fs.releasedir(ino, fh));
    },

    fsyncdir(req, ino, _datasync, fi) {
      const fh = readFh(fi);
      c.runVoid(req, "fsyncdir", () => fs.fsyncdir(ino, fh));
    },
  };
}

function dotAttr(e: DirEntry): Attr {
  return {
    ino: e.ino,
    mode: e.type,
    nlink: 0,
    uid: 0,
    gid: 0,
    rdev: 0,
    size: 0,
    blocks: 0,
    atimeNs: 0n,
    mtimeNs: 0n,
    ctimeNs: 0n,
  };
}
