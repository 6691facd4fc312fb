/**
 * The full `fuse_lowlevel_ops` handler set of one mount: `init` negotiates the kernel options,
 * the other groups come from the `ops_*` modules.
 *
 * @module
 */

import type { OpHandlers, OpName } from "../../ffi/fuse.ts";
import { Errno } from "../fs/errors.ts";
import { Cap, ConnInfo } from "../../ffi/layouts.ts";
import type { OpContext } from "./context.ts";
import { dirOps } from "./ops_dir.ts";
import { entryOps } from "./ops_entry.ts";
import { fileOps } from "./ops_file.ts";
import { xattrOps } from "./ops_xattr.ts";

/** Kernel connection parameters requested in `init`. */
export interface KernelOptions {
  /** Largest write request. Never above 1 MiB: libfuse 3.14's receive buffer is 1 MiB + 4 KiB. */
  maxWrite: number;
  /** Readahead the kernel may do; the bdi's read_ahead_kb is raised to match after mounting. */
  maxReadahead: number;
  /** Background (async read, writeback) requests the kernel keeps in flight. */
  maxBackground: number;
  /** Background requests above which the bdi is marked congested. */
  congestionThreshold: number;
  /** Ask for the writeback cache (small writes are merged into page-sized ones). */
  writeback: boolean;
  /** After a read shorter than a chunk, hand the whole decrypted chunk to the page cache. */
  storePages: boolean;
  /**
   * Clear set-ID bits here rather than in the kernel (FUSE_HANDLE_KILLPRIV_V2, init_reply.ts),
   * which spares a GETXATTR round trip per write(2).
   */
  killprivV2: boolean;
}

/**
 * The options chosen by measurement (figures: docs/performance.md, "Choices in the code").
 * Writeback cache: the kernel merges small writes into 1 MiB requests, so chunks are sealed
 * whole instead of rewritten per 4 KiB; the price is one extra SETATTR (mtime/ctime) per closed
 * or deleted file that was written. Reads come as 1 MiB requests (max_pages); a 16 MiB readahead
 * window (the bdi raised to match) keeps many of them in flight for a cold sequential read.
 */
export const DEFAULT_KERNEL_OPTIONS: KernelOptions = {
  maxWrite: 1 << 20,
  maxReadahead: 16 << 20,
  maxBackground: 64,
  congestionThreshold: 48,
  writeback: true,
  storePages: true,
  killprivV2: true,
};

/** Capabilities taken whenever the kernel offers them. */
const WANTED = Cap.ASYNC_READ | Cap.ATOMIC_O_TRUNC | Cap.READDIRPLUS | Cap.READDIRPLUS_AUTO |
  Cap.PARALLEL_DIROPS | Cap.CACHE_SYMLINKS;

/**
 * Capabilities refused. Splice: the JS loop reads into libfuse's buffer, and zero-copy does not
 * pay once the data is copied into JS anyway. AUTO_INVAL_DATA: this mount is the only writer, so
 * a changed mtime never means the cached pages are stale. HANDLE_KILLPRIV (the first version):
 * the kernel clears set-ID bits through SETATTR; its successor, asked for in init_reply.ts, moves
 * that here (set_id_requests.ts). Locks: left to the kernel's local lock table.
 */
const REFUSED = Cap.SPLICE_READ | Cap.SPLICE_WRITE | Cap.SPLICE_MOVE | Cap.AUTO_INVAL_DATA |
  Cap.POSIX_LOCKS | Cap.FLOCK_LOCKS | Cap.WRITEBACK_CACHE | Cap.HANDLE_KILLPRIV;

/**
 * Wraps a request handler so that a synchronous exception (a bug) still answers the request:
 * EIO, or no reply for the forget family. An unanswered request would hang its caller forever.
 */
function guard<K extends Exclude<OpName, "init" | "destroy">>(
  c: OpContext,
  name: K,
  h: OpHandlers[K],
): OpHandlers[K] {
  const f = h as (req: Deno.PointerValue, ...rest: unknown[]) => void;
  const wrapped = (req: Deno.PointerValue, ...rest: unknown[]): void => {
    try {
      f(req, ...rest);
    } catch (e) {
      c.log.error(`${name}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      if (name === "forget" || name === "forget_multi") c.fuse.fuse_reply_none(req);
      else c.fuse.fuse_reply_err(req, Errno.EIO);
    }
  };
  return wrapped as unknown as OpHandlers[K];
}

/** Builds every handler of a mount. */
export function buildOps(c: OpContext, k: KernelOptions): OpHandlers {
  const ops = { ...entryOps(c), ...fileOps(c), ...dirOps(c), ...xattrOps(c) };
  const guarded = {} as Record<string, unknown>;
  for (const [name, h] of Object.entries(ops)) {
    guarded[name] = guard(c, name as keyof typeof ops, h as OpHandlers[keyof typeof ops]);
  }
  return {
    init(_userdata, conn) {
      if (conn === null) return;
      const v = new DataView(Deno.UnsafePointerView.getArrayBuffer(conn, ConnInfo.size));
      const capable = v.getUint32(ConnInfo.capable, true);
      let want = v.getUint32(ConnInfo.want, true);
      want = (want & ~REFUSED) | (capable & WANTED);
      c.writeback = k.writeback && (capable & Cap.WRITEBACK_CACHE) !== 0;
      if (c.writeback) want |= Cap.WRITEBACK_CACHE;
      v.setUint32(ConnInfo.want, want >>> 0, true);
      v.setUint32(ConnInfo.maxWrite, k.maxWrite, true);
      v.setUint32(ConnInfo.maxReadahead, k.maxReadahead, true);
      v.setUint32(ConnInfo.maxBackground, k.maxBackground, true);
      v.setUint32(ConnInfo.congestionThreshold, k.congestionThreshold, true);
      v.setUint32(ConnInfo.timeGran, 1, true);
      c.log.debug(
        `fuse: kernel protocol ${v.getUint32(ConnInfo.protoMajor, true)}.` +
          `${v.getUint32(ConnInfo.protoMinor, true)}, capable 0x${capable.toString(16)}, ` +
          `want 0x${(want >>> 0).toString(16)}, writeback cache ${c.writeback ? "on" : "off"}`,
      );
    },

    destroy(_userdata) {
      // Flushing happens in the session's shutdown path (fs.syncAll), which can await.
    },

    ...(guarded as Omit<OpHandlers, "init" | "destroy">),
  };
}
