/**
 * Whole chunks into the kernel's page cache. A short read (a random 4 KiB `pread`) makes the
 * store decrypt the whole chunk around it anyway, since the chunk is the unit of authentication;
 * handing the kernel only the pages asked for throws the rest of that work away, and each later
 * read in the same chunk pays for the whole chunk again. `FUSE_NOTIFY_STORE` gives the kernel
 * the other pages too, so those reads never reach this process.
 *
 * The danger is a store landing after the content changed: with the writeback cache the kernel's
 * pages may hold writes this process has not seen (a store overwrites dirty pages), and a store
 * past the kernel's file size grows the file there (after a truncation: old plaintext back). The
 * kernel orders a store with nothing else, so the rules are ours:
 * - a read is widened only inside one chunk, never for O_DIRECT, never while a handle of the inode
 *   is open for writing or a change of it is in progress; it stores only the bytes it returned;
 * - a change (an open for writing or with O_TRUNC, a size change, fallocate) runs between
 *   {@link PageStore.begin}, which waits for the inode's stores in flight, and
 *   {@link PageStore.end}, called once its reply is sent (a handle open for writing is counted as
 *   a writer before that); no store starts meanwhile;
 * - every begin and end moves the inode's content epoch, taken when a read starts: a read that
 *   overlapped a change, even one already over, never stores.
 *
 * The store runs on a pool thread: a page of the chunk may be locked by a read the kernel is
 * waiting for, which this (JS) thread has to answer first. The session is destroyed only once
 * the stores in flight are done ({@link PageStore.idle}).
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

/** Inodes whose epoch is remembered, at most (then all are forgotten at once, safely). */
const EPOCHS_MAX = 65536;
/**
 * Store calls in flight, at most: beyond, reads are answered without one. Each runs on the
 * runtime's blocking pool (32 threads, shared with the request loop's parked poll and with file
 * I/O) and may wait there for a page a pending READ holds. Were every pool thread waiting so,
 * nothing could take that READ off /dev/fuse: the mount would hang for good. This many, plus
 * the prune's 8 entry invalidations (src/fuse/mount.ts), leave the loop threads to spare. (4 in
 * flight held a single random reader to a quarter of its speed.)
 */
export const STORE_CALLS_MAX = 16;

const ENOENT = 2;
const ENODEV = 19;

interface InFlight {
  n: number;
  waiters: (() => void)[];
}

/** Stores whole chunks into the page cache after short reads (see the module doc). */
export class PageStore {
  readonly #send: StoreSender;
  /** Content epochs by inode; an inode not in the map is at `#floor`. */
  readonly #epochs = new Map<bigint, number>();
  #gen = 0;
  #floor = 0;
  /** Changes in progress, by inode. */
  readonly #changes = new Map<bigint, number>();
  /** Stores in flight, by inode, and who waits for them to end. */
  readonly #inFlight = new Map<bigint, InFlight>();
  #total = 0;
  #idleWaiters: (() => void)[] = [];
  /** Off after {@link close}, or after the kernel refused one (no NOTIFY_STORE). */
  #on = true;
  /** Told once why stores stopped, when the kernel refused one (for the log). */
  onStop: (why: string) => void = () => {};

  /**
   * @param send sends one store (see {@link StoreSender})
   * @param chunk the store's chunk size: reads shorter than this are widened to whole chunks
   * @param delayMs tests: how long each store waits before it is sent, as a busy pool would
   */
  constructor(send: StoreSender, readonly chunk: number, readonly delayMs = 0) {
    this.#send = send;
  }

  /** Whether a read of `size` bytes at `offset` of `ino` should be widened to its chunk. */
  widens(ino: bigint, offset: number, size: number): boolean {
    const c = this.chunk;
    return this.#on && c > 0 && size > 0 && size < c &&
      Math.floor(offset / c) === Math.floor((offset + size - 1) / c) &&
      !this.#changes.has(ino) && this.#total < STORE_CALLS_MAX;
  }

  /** The content epoch of `ino` (taken when a read starts). */
  epoch(ino: bigint): number {
    return this.#epochs.get(ino) ?? this.#floor;
  }

  #bump(ino: bigint): void {
    if (this.#epochs.size >= EPOCHS_MAX) {
      // Forgetting moves every inode to a new floor: reads under way no longer match.
      this.#epochs.clear();
      this.#floor = ++this.#gen;
    }
    this.#epochs.set(ino, ++this.#gen);
  }

  /**
   * A change of `ino`'s content starts: no store of it starts until the matching {@link end},
   * and this resolves once the stores already in flight are done.
   */
  begin(ino: bigint): Promise<void> {
    this.#changes.set(ino, (this.#changes.get(ino) ?? 0) + 1);
    this.#bump(ino);
    const f = this.#inFlight.get(ino);
    return f ? new Promise((r) => f.waiters.push(r)) : Promise.resolve();
  }

  /** The change begun by {@link begin} is over and its reply sent. */
  end(ino: bigint): void {
    const n = (this.#changes.get(ino) ?? 1) - 1;
    if (n > 0) this.#changes.set(ino, n);
    else this.#changes.delete(ino);
    this.#bump(ino);
  }

  /**
   * Hands `pieces` (the decrypted bytes of `ino` from `offset` on, contiguous) to the kernel's
   * page cache if the content epoch is still `epoch`, no change is in progress and `writing`
   * is false; then calls `done` (at once when nothing is sent). The pieces must stay untouched
   * until `done`.
   */
  store(
    ino: bigint,
    offset: number,
    pieces: readonly Uint8Array[],
    epoch: number,
    writing: boolean,
    done: () => void,
  ): void {
    if (
      !this.#on || writing || this.#changes.has(ino) || this.epoch(ino) !== epoch ||
      this.#total + pieces.length > STORE_CALLS_MAX
    ) return done();
    const parts: [number, Uint8Array<ArrayBuffer>][] = [];
    let at = offset;
    for (const p of pieces) {
      if (p.length === 0) continue;
      parts.push([at, bufvec(p)]);
      at += p.length;
    }
    if (parts.length === 0) return done();
    const sendAll = () => Promise.all(parts.map(([o, v]) => this.#send(ino, BigInt(o), v)));
    let f = this.#inFlight.get(ino);
    if (!f) this.#inFlight.set(ino, f = { n: 0, waiters: [] });
    const mine = f;
    mine.n++;
    const calls = parts.length;
    this.#total += calls;
    const sent = this.delayMs > 0
      ? new Promise((r) => setTimeout(r, this.delayMs)).then(sendAll)
      : sendAll();
    sent.then((rs) => {
      // -ENOENT: the kernel forgot the inode meanwhile; -ENODEV: the mount is going away;
      // anything else: no stores from now on.
      const bad = rs.find((r) => r < 0 && r !== -ENOENT && r !== -ENODEV);
      if (bad !== undefined) this.#stop(`the kernel refused a page store (errno ${-bad})`);
    }, (e) => this.#stop(`page store failed: ${e}`)).finally(() => {
      parts.length = 0;
      done();
      if (--mine.n === 0) {
        if (this.#inFlight.get(ino) === mine) this.#inFlight.delete(ino);
        for (const w of mine.waiters.splice(0)) w();
      }
      this.#total -= calls;
      if (this.#total === 0) { for (const w of this.#idleWaiters.splice(0)) w(); }
    });
  }

  #stop(why: string): void {
    if (this.#on) this.onStop(why);
    this.#on = false;
  }

  /** No store starts from now on (the session is ending). */
  close(): void {
    this.#on = false;
  }

  /** Stops new stores and waits up to `ms` for those in flight: false if some still run. */
  async quiesce(ms: number): Promise<boolean> {
    this.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const idle = await Promise.race([
      this.idle().then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), ms)),
    ]);
    clearTimeout(timer);
    return idle;
  }

  /** Resolves once no store is in flight. */
  idle(): Promise<void> {
    return this.#total === 0 ? Promise.resolve() : new Promise((r) => this.#idleWaiters.push(r));
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
