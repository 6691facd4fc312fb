/**
 * Whole chunks into the kernel's page cache. A small read (a random 4 KiB `pread`) makes the
 * store decrypt the whole chunk around it anyway, since the chunk is the unit of authentication;
 * handing the kernel only the pages asked for throws the rest of that work away, and each later
 * read in the same chunk pays for the whole chunk again. `FUSE_NOTIFY_STORE` gives the kernel
 * the other pages too, so those reads never reach this process.
 *
 * The one danger is replacing newer data: with the writeback cache, the kernel's pages may hold
 * writes this process has not seen. So a chunk is only stored for an inode that no handle has
 * open for writing, from the read's start until the store is sent (a per-inode epoch, bumped by
 * every event that may change the content, tells whether one came in between); and anything
 * that may change an inode's content (an open for writing, a truncation, fallocate) waits until
 * the stores of that inode are done. A store past the kernel's idea of the file size would also
 * grow the file there, so only the bytes the read returned (never past the end) are stored.
 *
 * The store runs on a pool thread: a page of the chunk may be locked by a read the kernel is
 * waiting for, which this (JS) thread has to answer first.
 * @module
 */

import { FuseBuf, FuseBufVec } from "../../ffi/layouts.ts";

/**
 * Sends one `FUSE_NOTIFY_STORE` of the `fuse_bufvec` `bufv` at `offset` of `ino` from a pool
 * thread; resolves to libfuse's result (0 or -errno).
 */
export type StoreSender = (
  ino: bigint,
  offset: bigint,
  bufv: Uint8Array<ArrayBuffer>,
) => Promise<number>;

/** Stores whole chunks into the page cache after small reads (see the module doc). */
export class PageStore {
  readonly #send: StoreSender;
  /** Bumped for an inode by every event that may change its content. */
  readonly #epochs = new Map<bigint, number>();
  /** Stores in flight, per inode. */
  readonly #pending = new Map<bigint, Promise<void>>();
  /** Off after the kernel refused one (an old kernel, or no NOTIFY_STORE). */
  #on = true;

  /**
   * @param send sends one store (see {@link StoreSender})
   * @param chunk the store's chunk size: reads shorter than this are widened to whole chunks
   */
  constructor(send: StoreSender, readonly chunk: number) {
    this.#send = send;
  }

  /** Whether a read of `size` bytes should be widened to its whole chunk. */
  widens(size: number): boolean {
    return this.#on && this.chunk > 0 && size < this.chunk;
  }

  /** The content epoch of `ino` (taken when a read starts). */
  epoch(ino: bigint): number {
    return this.#epochs.get(ino) ?? 0;
  }

  /**
   * `ino`'s content may change (an open for writing, a truncation, …): stores begun before are
   * not sent. Resolves once the stores already sent are done; call before the change.
   */
  changing(ino: bigint): Promise<void> | null {
    this.#epochs.set(ino, this.epoch(ino) + 1);
    // Bounded: an epoch forgotten only makes a store in flight look current when that inode
    // also has no writer left; clearing everything at once keeps the map small.
    if (this.#epochs.size > 65536) this.#epochs.clear();
    return this.#pending.get(ino) ?? null;
  }

  /**
   * Hands `pieces` (the decrypted bytes of `ino` from `offset` on, contiguous) to the kernel's
   * page cache if the content epoch is still `epoch` and `writing` is false, then calls `done`
   * (at once when nothing is sent). The pieces must stay untouched until `done`.
   */
  store(
    ino: bigint,
    offset: number,
    pieces: readonly Uint8Array[],
    epoch: number,
    writing: boolean,
    done: () => void,
  ): void {
    if (!this.#on || writing || this.epoch(ino) !== epoch) return done();
    const calls: Promise<number>[] = [];
    const keep: Uint8Array[] = [];
    let at = offset;
    for (const p of pieces) {
      if (p.length === 0) continue;
      const v = bufvec(p);
      keep.push(v);
      calls.push(this.#send(ino, BigInt(at), v));
      at += p.length;
    }
    if (calls.length === 0) return done();
    const prev = this.#pending.get(ino);
    const all: Promise<void> = Promise.all(calls).then((rs) => {
      // -ENOENT: the kernel forgot the inode meanwhile; anything else: no stores from now on.
      if (rs.some((r) => r < 0 && r !== -2)) this.#on = false;
    }, () => {
      this.#on = false;
    }).finally(() => {
      keep.length = 0;
      done();
      if (this.#pending.get(ino) === tracked) this.#pending.delete(ino);
    });
    const tracked = prev ? Promise.all([prev, all]).then(() => {}) : all;
    this.#pending.set(ino, tracked);
  }
}

/** A one-buffer `fuse_bufvec` over `p` (its memory must outlive the call). */
function bufvec(p: Uint8Array): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(FuseBufVec.size);
  const v = new DataView(b.buffer);
  v.setBigUint64(FuseBufVec.count, 1n, true);
  v.setBigUint64(FuseBufVec.buf + FuseBuf.size_, BigInt(p.length), true);
  v.setBigUint64(
    FuseBufVec.buf + FuseBuf.mem,
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(p))),
    true,
  );
  v.setInt32(FuseBufVec.buf + FuseBuf.fd, -1, true);
  return b;
}
