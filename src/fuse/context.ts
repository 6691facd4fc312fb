/**
 * State shared by the operation handlers of one mount, and the request plumbing they all use:
 * run an fs call, reply when it settles, turn failures into errno replies, keep lookup counts
 * in step with what the kernel really received.
 *
 * @module
 */

import type { PageStore } from "./page_store.ts";
import { Ctx, Iovec } from "../../ffi/layouts.ts";
import type { Fuse } from "../../ffi/fuse.ts";
import { Errno, FsError } from "../fs/errors.ts";
import type { Attr, FileSystem } from "../fs/types.ts";
import { LookupCounts } from "./lookup_counts.ts";
import { SpaceGuard } from "./space_guard.ts";
import { EntryBuf, FileInfoBuf, type OpenReplyFlags, StatBuf, StatvfsBuf } from "./reply.ts";
import { memoryBudgetNow } from "../util/memory_budget.ts";

/** Where the adapter reports problems; the same shape as `MountOptions.logger`. */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** Identity of the process behind a request. */
export interface RequestCaller {
  uid: number;
  gid: number;
  pid: number;
  umask: number;
}

/** A request handle from libfuse (`fuse_req_t`). */
export type Req = Deno.PointerValue;

/**
 * Attribute and entry cache lifetimes handed to the kernel, in seconds. Every change goes
 * through this mount (one writer per data dir), so the kernel's copies never go stale; a short
 * lifetime only makes it ask again. At 1 s, a listing that took longer than that (`ls -l` or
 * `rm -r` of a big directory) had every name it returned looked up once more, and each such
 * lookup reads an entry file.
 */
export const ATTR_TIMEOUT = 10.0;
/** See {@link ATTR_TIMEOUT}. */
export const ENTRY_TIMEOUT = 10.0;
/**
 * Bytes of reads and writes in flight above which no new request is taken (see room()): a share
 * of the memory ceiling (src/util/memory_budget.ts), at most 16 MiB.
 */
export function ioBytesLimit(): number {
  return memoryBudgetNow().ioBytes;
}

/** Everything a handler needs; one per mount. */
export class OpContext {
  readonly counts = new LookupCounts();
  readonly stat = new StatBuf();
  readonly entry = new EntryBuf(() => this.attrTimeout, ENTRY_TIMEOUT);
  readonly fileInfo = new FileInfoBuf();
  readonly statvfs = new StatvfsBuf();
  #iov = new Uint8Array(Iovec.size * 32);

  /**
   * A `struct iovec` array over `pieces` (at most `max` bytes in all) for a reply that the
   * kernel copies before libfuse returns; the pieces must stay untouched until then.
   */
  iovecs(pieces: readonly Uint8Array[], max: number): Uint8Array<ArrayBuffer> {
    if (this.#iov.length < pieces.length * Iovec.size) {
      this.#iov = new Uint8Array(pieces.length * Iovec.size * 2);
    }
    const v = new DataView(this.#iov.buffer);
    let left = max;
    pieces.forEach((p, k) => {
      const len = Math.min(p.length, left);
      left -= len;
      const at = k * Iovec.size;
      v.setBigUint64(
        at + Iovec.base,
        BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(p))),
        true,
      );
      v.setBigUint64(at + Iovec.len, BigInt(len), true);
    });
    return this.#iov;
  }

  /**
   * Set by the mount: a view of the raw request being processed, meaningful only during its
   * callback (for fields libfuse 3.14 does not pass on).
   */
  request: () => Deno.UnsafePointerView | null = () => null;

  /** Set by `init` when the kernel granted the writeback cache. */
  writeback = false;
  /** Set by the mount once the chunk size is known: whole chunks into the page cache. */
  pages: PageStore | null = null;

  /** Handles open for writing, by inode. */
  readonly #writing = new Map<bigint, number>();

  /** Whether a handle has `ino` open for writing. */
  writing(ino: bigint): boolean {
    return this.#writing.has(ino);
  }

  /**
   * Like {@link run}, for an operation that may change `ino`'s content (an open for writing, a
   * truncation, fallocate): no page store of `ino` is sent from before `call` starts until `ok`
   * (the reply) has run, and the stores in flight end first (see page_store.ts).
   */
  runChanging<T>(
    req: Req,
    op: string,
    ino: bigint,
    call: () => Promise<T>,
    ok: (value: T) => void,
  ): void {
    const pages = this.pages;
    if (!pages) return this.run(req, op, call, ok);
    let ended = false;
    const end = () => {
      if (!ended) pages.end(ino);
      ended = true;
    };
    this.run(req, op, async () => {
      await pages.begin(ino);
      try {
        return await call();
      } catch (e) {
        end();
        throw e;
      }
    }, (v) => {
      try {
        ok(v);
      } finally {
        end();
      }
    });
  }
  /** Reply bits for opened files (`keep_cache`: this mount is the only writer). */
  readonly fileOpen: OpenReplyFlags = { keepCache: true };
  /** Reply bits for opened directories. */
  readonly dirOpen: OpenReplyFlags = {};
  /** Requests whose reply is still pending (for diagnostics and drain on unmount). */
  inFlight = 0;
  /** Operations started so far (the mount is idle while it stays the same). */
  started = 0;
  /** Bytes of read and write requests in flight (their buffers are held until they finish). */
  ioBytes = 0;
  readonly #ioLimit = ioBytesLimit();
  #roomWaiter: (() => void) | null = null;

  /**
   * Set by a WRITE of the kernel's write-back (cached pages), which it sends without waiting for
   * replies: more are likely queued behind it (see {@link takeWriteBack}).
   */
  writeBackSeen = false;

  get #hasRoom(): boolean {
    return this.ioBytes <= this.#ioLimit;
  }

  /**
   * Whether the last request was a write-back WRITE and there is room for more data in flight:
   * the request loop then takes the next request at once. Resets the mark.
   */
  takeWriteBack(): boolean {
    const seen = this.writeBackSeen;
    this.writeBackSeen = false;
    return seen && this.#hasRoom;
  }

  /**
   * Null while fewer than {@link ioBytesLimit} bytes of reads and writes are in flight; otherwise a
   * promise that resolves once enough of them finished. The request loop stops taking requests
   * meanwhile: the kernel keeps them queued, and memory stays bounded however many requests it
   * sends at once (64 background writes of 1 MiB would otherwise all be copied in).
   */
  room(): Promise<void> | null {
    if (this.#hasRoom) return null;
    return new Promise((r) => this.#roomWaiter = r);
  }

  #release(bytes: number): void {
    this.ioBytes -= bytes;
    if (this.#roomWaiter && this.#hasRoom) {
      const w = this.#roomWaiter;
      this.#roomWaiter = null;
      w();
    }
  }
  /** Set before the session is destroyed: a late reply would touch freed libfuse memory. */
  closed = false;
  // Running out of descriptors is logged once: every request fails meanwhile.
  #toldOutOfFiles = false;

  /** Handles open for writing, and their inodes (see space_guard.ts). */
  readonly writers = new Map<number, bigint>();
  /** Set by the mount once the session exists: drops the kernel's cached attributes of `ino`. */
  invalidateAttr: (ino: bigint) => void = () => {};
  /** Refuses writes before the backing disk is full (see space_guard.ts). */
  readonly space: SpaceGuard;

  constructor(
    readonly fuse: Fuse,
    readonly fs: FileSystem,
    readonly log: Logger,
  ) {
    this.space = new SpaceGuard(
      async () => {
        const s = await fs.statfs();
        return { available: s.bavail * s.bsize, total: s.blocks * s.bsize };
      },
      4 << 20,
      () => {
        log.warn("fuse: the backing disk is nearly full; every write now checks free space");
        for (const ino of new Set(this.writers.values())) this.invalidateAttr(ino);
      },
    );
  }

  /** Attribute lifetime handed to the kernel: none while the disk is nearly full. */
  get attrTimeout(): number {
    return this.space.tight ? 0 : ATTR_TIMEOUT;
  }

  /**
   * Records handle `fh` of `ino` if it was opened for writing (`flags` as passed to open). Before
   * the reply: from then on no page store of `ino` starts (see page_store.ts).
   */
  noteOpen(fh: number, ino: bigint, flags: number): void {
    if ((flags & 0o3) !== 0 && !this.writers.has(fh)) {
      this.writers.set(fh, ino);
      this.#writing.set(ino, (this.#writing.get(ino) ?? 0) + 1);
      this.space.check().catch(() => {});
    }
  }

  /** Handle `fh` is closed (or its open was never received). */
  noteClosed(fh: number): void {
    const ino = this.writers.get(fh);
    if (ino === undefined) return;
    this.writers.delete(fh);
    const n = (this.#writing.get(ino) ?? 1) - 1;
    if (n > 0) this.#writing.set(ino, n);
    else this.#writing.delete(ino);
  }

  /** uid/gid/pid/umask of the request's caller; read during the callback. */
  caller(req: Req): RequestCaller {
    const p = this.fuse.fuse_req_ctx(req);
    if (p === null) return { uid: 0, gid: 0, pid: 0, umask: 0o022 };
    const v = new Deno.UnsafePointerView(p);
    return {
      uid: v.getUint32(Ctx.uid),
      gid: v.getUint32(Ctx.gid),
      pid: v.getInt32(Ctx.pid),
      umask: v.getUint32(Ctx.umask),
    };
  }

  /** The caller's supplementary groups (read by libfuse from /proc). */
  groups(req: Req): number[] {
    let size = 32;
    for (;;) {
      const buf = new Uint32Array(size);
      const n = this.fuse.fuse_req_getgroups(req, size, buf);
      if (n < 0) return [];
      if (n <= size) return [...buf.subarray(0, n)];
      size = n;
    }
  }

  /**
   * Runs `call`, then `ok` with its result; a failure becomes an errno reply. `ok` must send
   * exactly one reply and must not throw after sending it.
   */
  run<T>(
    req: Req,
    op: string,
    call: () => Promise<T>,
    ok: (value: T) => void,
    bytes = 0,
  ): void {
    let p: Promise<T>;
    try {
      p = call();
    } catch (e) {
      this.fail(req, op, e);
      return;
    }
    this.inFlight++;
    this.started++;
    this.ioBytes += bytes;
    p.then(
      (v) => {
        this.inFlight--;
        this.#release(bytes);
        if (this.closed) return;
        try {
          ok(v);
        } catch (e) {
          this.fail(req, op, e);
        }
      },
      (e) => {
        this.inFlight--;
        this.#release(bytes);
        if (this.closed) return;
        this.fail(req, op, e);
      },
    );
  }

  /** Runs `call` and replies with success (errno 0). */
  runVoid(req: Req, op: string, call: () => Promise<unknown>): void {
    this.run(req, op, call, () => this.fuse.fuse_reply_err(req, 0));
  }

  /** Replies with the errno of `e`: an FsError's own, EIO (logged) for anything else. */
  fail(req: Req, op: string, e: unknown): void {
    let errno: number;
    if (e instanceof FsError) {
      errno = e.errno;
      if (errno === Errno.EIO) this.log.error(`${op}: ${e.message}`);
      // The daemon's own descriptors ran out, not the caller's: "too many open files in system".
      if (errno === Errno.EMFILE) {
        errno = Errno.ENFILE;
        if (!this.#toldOutOfFiles) {
          this.log.error(
            `${op}: no file descriptor left (ulimit -n): requests fail with ENFILE until files close`,
          );
        }
        this.#toldOutOfFiles = true;
      }
    } else {
      errno = Errno.EIO;
      this.log.error(`${op}: unexpected ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    }
    this.fuse.fuse_reply_err(req, errno);
  }

  /** Counts one more kernel reference to `ino` (the fs first, then our mirror). */
  retain(ino: bigint): void {
    this.fs.retain(ino);
    this.counts.add(ino);
  }

  /** Drops references the kernel never received (its request was interrupted). */
  unretain(ino: bigint, n = 1): void {
    const k = this.counts.remove(ino, n);
    if (k > 0) this.fs.forget(ino, k);
  }

  /** Replies with an entry for `attr`, counting the lookup only if the kernel took it. */
  replyEntry(req: Req, attr: Attr): void {
    const e = this.entry.fill(attr);
    this.retain(attr.ino);
    if (this.fuse.fuse_reply_entry(req, e) !== 0) this.unretain(attr.ino);
  }

  /** Replies with attributes. */
  replyAttr(req: Req, attr: Attr): void {
    this.fuse.fuse_reply_attr(req, this.stat.fill(attr), this.attrTimeout);
  }

  /**
   * Flags passed to `fs.open`/`fs.create`. O_APPEND is dropped: the kernel already turns append
   * writes into writes at end of file with explicit offsets. With the writeback cache the kernel
   * may read a write-only file to fill partial pages, so O_WRONLY becomes O_RDWR.
   */
  openFlags(flags: number): number {
    let f = flags & ~0o2000; // O_APPEND
    if (this.writeback && (f & 0o3) === 0o1) f = (f & ~0o3) | 0o2;
    return f;
  }
}
