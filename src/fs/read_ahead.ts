/**
 * Read-ahead for sequential readers. Through FUSE a sequential reader has one or two requests
 * in flight, so each request's latency (read the chunks, decrypt them on the workers) adds up.
 * When reads arrive in order, the chunks after the last one read are fetched and decrypted in
 * the background; the next request then finds them ready. Any write or truncation of the file
 * drops what was fetched, and a generation number keeps a fetch that raced a write from ever
 * being served.
 */

/** Chunks fetched ahead per file, at most. */
const WINDOW_BYTES = 4 * 1024 * 1024;
/** Bytes fetched ahead across all files, at most. */
const GLOBAL_BYTES = 64 * 1024 * 1024;
let globalBytes = 0;

interface Fetched {
  gen: number;
  bytes: number;
  data: Promise<Uint8Array | null>;
}

/** The read-ahead state of one open file. */
export class ReadAhead {
  #gen = 0;
  #next = -1;
  readonly #fetched = new Map<number, Fetched>();

  /** Drops everything fetched (the file changed). */
  invalidate(): void {
    this.#gen++;
    for (const f of this.#fetched.values()) globalBytes -= f.bytes;
    this.#fetched.clear();
  }

  /** The fetched plaintext of chunks `first..last` if every one is ready to be taken. */
  take(first: number, last: number): Promise<Uint8Array | null>[] | null {
    const out: Promise<Uint8Array | null>[] = [];
    for (let i = first; i <= last; i++) {
      const f = this.#fetched.get(i);
      if (!f || f.gen !== this.#gen) return null;
      out.push(f.data);
    }
    for (let i = first; i <= last; i++) this.#drop(i);
    return out;
  }

  #drop(i: number): void {
    const f = this.#fetched.get(i);
    if (f) {
      globalBytes -= f.bytes;
      this.#fetched.delete(i);
    }
  }

  /**
   * Notes a read of `offset..end`; when it continues the previous one, returns the chunk range
   * to fetch ahead (up to the window, not past `lastChunk`), else null.
   */
  plan(
    offset: number,
    end: number,
    chunkSize: number,
    lastChunk: number,
  ): [number, number] | null {
    const sequential = offset === this.#next;
    this.#next = end;
    if (!sequential) {
      // A jump: what was fetched for the old position is of no use.
      for (const i of [...this.#fetched.keys()]) this.#drop(i);
      return null;
    }
    const from = Math.floor((end - 1) / chunkSize) + 1;
    const window = Math.max(1, Math.floor(WINDOW_BYTES / chunkSize));
    let start = from;
    while (this.#fetched.has(start)) start++;
    const stop = Math.min(lastChunk, from + window - 1);
    if (start > stop || globalBytes + (stop - start + 1) * chunkSize > GLOBAL_BYTES) return null;
    return [start, stop];
  }

  /** Records a background fetch of chunks `first..` (one promise per chunk). */
  add(first: number, data: Promise<Uint8Array | null>[], chunkSize: number): void {
    data.forEach((d, k) => {
      this.#fetched.set(first + k, { gen: this.#gen, bytes: chunkSize, data: d });
      globalBytes += chunkSize;
    });
  }

  /** The generation now: a fetch started now is valid while it stays the same. */
  get gen(): number {
    return this.#gen;
  }
}
