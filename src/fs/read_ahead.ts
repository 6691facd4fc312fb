/**
 * Read-ahead for sequential readers. A sequential reader has only a few requests in flight,
 * so each request's latency (read the chunks, decrypt them on a worker) adds up. When reads
 * arrive in order, the chunks after the last one asked for are fetched and decrypted in the
 * background; later requests take them. A chunk is fetched once: reads in flight together
 * (the kernel's readahead, a caller's parallel reads) and the fetches ahead never overlap.
 * Any write or truncation of the file drops what was fetched (before and after the write, so
 * a fetch that raced it is never served): fetching ahead chunks that parallel reads are
 * still fetching themselves halves cached read throughput (docs/performance.md, "Choices in
 * the code").
 */
import { memoryBudgetNow } from "../util/memory_budget.ts";

/** Chunks fetched ahead per file: the window starts small and doubles per sequential read. */
const FIRST_WINDOW = 1024 * 1024;
const MAX_WINDOW = 8 * 1024 * 1024;
/** A read this close to where the last one ended still counts as sequential. */
const SLACK = 1024 * 1024;
/** Bytes fetched ahead across all files (at most the memory budget's `readAheadBytes`). */
let globalBytes = 0;

interface Fetched {
  bytes: number;
  data: Promise<Uint8Array | null>;
  /** Hands the chunk's buffer back when it is dropped unread. */
  release: (chunk: Uint8Array) => void;
}

/** The read-ahead state of one open file. */
export class ReadAhead {
  /** Where the next sequential read would start. */
  #next = -1;
  /** Chunks up to this one were asked for by a read or fetched ahead (not to be fetched again). */
  #requested = -1;
  #window = FIRST_WINDOW;
  /** Sequential reads in a row. */
  #streak = 0;
  readonly #fetched = new Map<number, Fetched>();

  /** Drops everything fetched (the file changed). */
  invalidate(): void {
    for (const i of [...this.#fetched.keys()]) this.#drop(i, true);
    this.#requested = -1;
  }

  /**
   * Notes a read of `offset..end` (chunks `first..last`) as it arrives. Readers keep several
   * requests in flight (the kernel's readahead, a library caller's parallel reads), which finish
   * out of order: what counts is the order they arrive in. A read near where the last one ended
   * is sequential; a jump drops what was fetched for the old position. Returns whether to fetch
   * ahead of it (the second sequential read in a row or later).
   */
  begin(offset: number, end: number, last: number): boolean {
    const sequential = this.#next >= 0 && Math.abs(offset - this.#next) <= SLACK;
    // Random reads in a file of a few MiB land near the last one by chance (1 in 4 in an 8 MiB
    // file): only a second sequential read in a row starts fetching ahead, or random readers
    // make the daemon fetch (and hold) MiBs that nobody reads.
    this.#streak = sequential ? this.#streak + 1 : 0;
    if (sequential) {
      this.#window = Math.min(MAX_WINDOW, this.#window * 2);
    } else {
      for (const i of [...this.#fetched.keys()]) this.#drop(i, true);
      this.#requested = -1;
      this.#window = FIRST_WINDOW;
    }
    this.#next = Math.max(end, sequential ? this.#next : 0);
    this.#requested = Math.max(this.#requested, last);
    return this.#streak >= 2;
  }

  /** The fetch of chunk `i` if one is held (it is handed over: taken only once). */
  take(i: number): Promise<Uint8Array | null> | undefined {
    const f = this.#fetched.get(i);
    this.#drop(i, false);
    return f?.data;
  }

  /** Whether a fetch of chunk `i` is held. */
  has(i: number): boolean {
    return this.#fetched.has(i);
  }

  #drop(i: number, release: boolean): void {
    const f = this.#fetched.get(i);
    if (!f) return;
    globalBytes -= f.bytes;
    this.#fetched.delete(i);
    if (release) f.data.then((c) => c && f.release(c));
  }

  /**
   * The chunk range to fetch ahead of a sequential read that ended in chunk `last`: from the
   * first chunk nobody asked for yet up to the window, not past `lastChunk`; null if none.
   */
  plan(last: number, chunkSize: number, lastChunk: number): [number, number] | null {
    const window = Math.max(1, Math.floor(this.#window / chunkSize));
    const start = Math.max(last, this.#requested) + 1;
    const stop = Math.min(lastChunk, last + window);
    if (
      start > stop ||
      globalBytes + (stop - start + 1) * chunkSize > memoryBudgetNow().readAheadBytes
    ) return null;
    return [start, stop];
  }

  /**
   * Records a background fetch of chunks `first..` (one promise per chunk, resolving to null on
   * failure); `release` takes back a chunk dropped unread.
   */
  add(
    first: number,
    data: Promise<Uint8Array | null>[],
    chunkSize: number,
    release: (chunk: Uint8Array) => void,
  ): void {
    data.forEach((d, k) => {
      this.#fetched.set(first + k, { bytes: chunkSize, data: d, release });
      globalBytes += chunkSize;
    });
    this.#requested = Math.max(this.#requested, first + data.length - 1);
  }
}
