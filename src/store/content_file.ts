/**
 * Content of a regular file, after the record slots of its inode file (`o/<sh>/<name>.m`):
 * fixed-size chunks, each sealed on its own with a fresh random nonce under the file's own key,
 * in a fixed-size slot so that a read or write at any offset touches only the chunks involved.
 *
 * Chunk slot `i` starts at `base + i * slotSize` and holds `len(u32 LE) || nonce || ciphertext(len) || tag`.
 * The associated data binds the format version, the inode number, the file id and `i`, so a
 * chunk moved to another position or file fails to open. A slot whose length field is zero was
 * never written (a sparse region of the backing file); whether that is a legitimate hole is for
 * the inode record to say.
 */
import { constants } from "node:fs";
import { singleChunkAead } from "../crypto/aead.ts";
import {
  errnoName,
  sysAdvise,
  sysClose,
  sysError,
  sysFdatasync,
  sysFstat,
  sysFsync,
  sysFtruncate,
  sysPread,
} from "../../ffi/sysio.ts";
import { settleFile } from "./backing_times.ts";
import { S_IFMT, S_IFREG } from "../fs/types.ts";
import { SAFE_OPEN, sysOpenObject, writeAllSync } from "./object_io.ts";
import { adPrefix, type KeyHolder, type StoreKeys } from "./keys.ts";
import { DamagedObjectError } from "./record_store.ts";
import { concat, u64le } from "../util/codec.ts";
import { ChunkIoError } from "./chunk_io.ts";
import {
  CHUNK_DAMAGED,
  CHUNK_TRUNCATED,
  CHUNK_UNWRITTEN,
  chunkAd,
  LEN_BYTES,
  slotBytes,
  slotLength,
  slotParts,
  startSlot,
} from "./chunk_slot.ts";

// One chunk (a random 4 KiB read or write, a small file) is done right here with synchronous
// calls: a round trip to a worker and its I/O thread cost more than the chunk's cipher call.
// One slot image serves every such call (they never overlap: nothing in them awaits).
let scratch = new Uint8Array(0);
function scratchOf(bytes: number): Uint8Array<ArrayBuffer> {
  if (scratch.length < bytes) scratch = new Uint8Array(bytes);
  return scratch.subarray(0, bytes);
}

/** Chunk geometry of a data dir. */
export interface Geometry {
  chunkSize: number;
  nonceLength: number;
}

/** Bytes one chunk slot occupies on disk. */
export function slotSize(g: Geometry): number {
  return slotBytes(g.nonceLength, g.chunkSize);
}

/**
 * An open content file. Its key (derived from K_content) lives in locked memory from the first
 * chunk read or written until the file closes or the keys go idle ({@link KeyHolder}); it is
 * derived again on the next use. It stays readable while held: an mprotect pair per chunk costs
 * about 5 µs, as much as sealing a 4 KiB chunk.
 */
export class ContentFile implements KeyHolder {
  readonly #fd: number;
  readonly #keys: StoreKeys;
  #key: Uint8Array | null = null;
  readonly #ino: bigint;
  readonly #fileId: Uint8Array;
  readonly #ad: Uint8Array;
  readonly #g: Geometry;
  readonly #slot: number;
  readonly #base: number;
  // Worker requests in flight on #fd: it is closed only once they are done, so that a late
  // pwrite can never land in another file that reused the descriptor number.
  #inFlight = 0;
  #idle: (() => void) | null = null;
  readonly path: string;

  private constructor(
    path: string,
    fd: number,
    keys: StoreKeys,
    ino: bigint,
    fileId: Uint8Array,
    g: Geometry,
    base: number,
  ) {
    this.path = path;
    this.#base = base;
    this.#fd = fd;
    this.#keys = keys;
    this.#ino = ino;
    this.#fileId = fileId.slice();
    this.#g = g;
    this.#slot = slotSize(g);
    // prefix || ino || fileId || index(8, filled per chunk)
    this.#ad = concat(adPrefix("chunk"), u64le(ino), fileId, new Uint8Array(8));
  }

  /** Opens the content of one inode, whose chunks start at byte `base` of its inode file. */
  static open(
    path: string,
    keys: StoreKeys,
    ino: bigint,
    fileId: Uint8Array,
    g: Geometry,
    base: number,
    writable: boolean,
  ): ContentFile {
    const fd = sysOpenObject(
      path,
      (writable ? constants.O_RDWR : constants.O_RDONLY) | SAFE_OPEN,
    );
    if (fd < 0) {
      const code = errnoName(fd);
      if (code === "ELOOP") throw new DamagedObjectError(path, "is a symlink, not an object");
      if (code === "ENOENT") throw new DamagedObjectError(path, "inode file is missing");
      throw sysError(fd, "open", path);
    }
    const st = sysFstat(fd);
    if (typeof st === "number" || (st.mode & S_IFMT) !== S_IFREG) {
      sysClose(fd);
      throw new DamagedObjectError(path, "is not a regular file");
    }
    return new ContentFile(path, fd, keys, ino, fileId, g, base);
  }

  // The file's raw key, derived on first use and again after forgetKey.
  #rawKey(): Uint8Array {
    this.#keys.touch();
    if (this.#key === null) {
      this.#key = this.#keys.fileKey(this.#ino, this.#fileId);
      this.#keys.hold(this);
    }
    return this.#key;
  }

  /** Zeroes the file's key (the keys went idle); the next chunk derives it again. */
  forgetKey(): void {
    if (this.#key) this.#keys.releaseFileKey(this.#key);
    this.#key = null;
    this.#keys.release(this);
  }

  #batch(first: number) {
    return {
      cipher: this.#keys.aead.name,
      key: this.#rawKey(),
      fd: this.#fd,
      pos: this.#base + first * this.#slot,
      slot: this.#slot,
      nonceLength: this.#g.nonceLength,
      chunkSize: this.#g.chunkSize,
      ad: this.#ad,
      first,
    };
  }

  async #tracked<T>(what: "pread" | "pwrite", op: () => Promise<T>): Promise<T> {
    this.#inFlight++;
    try {
      return await op();
    } catch (e) {
      if (e instanceof ChunkIoError) throw sysError(-e.errno, what, this.path);
      throw e;
    } finally {
      if (--this.#inFlight === 0) this.#idle?.();
    }
  }

  /**
   * Reads chunks `first .. first+count-1`. Each result is the chunk's plaintext (a view into
   * one buffer per call), or null for a slot that was never written. Throws DamagedObjectError
   * when a chunk fails to authenticate or is cut short. Releasing each chunk once after its last
   * use (`keys.chunks.release`) lets the buffer be reused; it is optional.
   */
  async read(first: number, count: number): Promise<(Uint8Array | null)[]> {
    if (count === 1) return [this.#readOne(first)];
    const { plain, lengths } = await this.#tracked(
      "pread",
      () => this.#keys.chunks.read(this.#batch(first), count),
    );
    const cs = this.#g.chunkSize;
    const out: (Uint8Array | null)[] = new Array(count).fill(null);
    try {
      for (let k = 0; k < count; k++) {
        const len = this.#usable(first + k, lengths[k]);
        if (len !== null) out[k] = plain.subarray(k * cs, k * cs + len);
      }
    } catch (e) {
      this.#keys.chunks.readImages.lend(plain, 0); // nothing handed out: reused at once
      throw e;
    }
    this.#keys.chunks.readImages.lend(plain, out.filter((c) => c !== null).length);
    return out;
  }

  #readOne(i: number): Uint8Array | null {
    const n = this.#g.nonceLength;
    const span = scratchOf(this.#slot);
    const got = sysPread(this.#fd, span, this.#base + i * this.#slot);
    if (got < 0) throw sysError(got, "pread", this.path);
    const len = this.#usable(i, slotLength(span, 0, got, n, this.#g.chunkSize));
    if (len === null) return null;
    const { nonce, sealed } = slotParts(span, 0, n, len);
    const images = this.#keys.chunks.chunkImages;
    const plain = images.take(len);
    const aead = singleChunkAead(this.#keys.aead.name);
    const ok = aead.openInto(this.#rawKey(), nonce, sealed, chunkAd(this.#ad, i), plain, 0);
    this.#usable(i, ok ? len : CHUNK_DAMAGED);
    images.lend(plain, 1);
    return plain;
  }

  // A chunk length from a slot: null when never written; throws for a damaged chunk.
  #usable(i: number, len: number): number | null {
    if (len === CHUNK_UNWRITTEN) return null;
    if (len === CHUNK_TRUNCATED) throw this.#damaged(i, "chunk is truncated");
    if (len === CHUNK_DAMAGED) throw this.#damaged(i, "chunk failed authentication");
    return len;
  }

  #writeOne(i: number, plain: Uint8Array, len: number): void {
    const n = this.#g.nonceLength;
    const out = scratchOf(slotBytes(n, len));
    const nonce = startSlot(out, 0, n, len);
    singleChunkAead(this.#keys.aead.name).sealInto(
      this.#rawKey(),
      nonce,
      plain.subarray(0, len),
      chunkAd(this.#ad, i),
      out,
      LEN_BYTES + n,
    );
    writeAllSync(this.#fd, out, this.#base + i * this.#slot, this.path);
    settleFile(this.#fd);
  }

  /**
   * Asks the kernel to start reading chunks `first .. first+count-1` from disk now: the worker's
   * reads of a read-ahead window then find them in the page cache instead of each waiting for
   * the disk in turn.
   */
  prefetch(first: number, count: number): void {
    sysAdvise(this.#fd, count * this.#slot, this.#base + first * this.#slot);
  }

  #damaged(i: number, why: string): DamagedObjectError {
    return new DamagedObjectError(this.path, `${why} (chunk ${i})`);
  }

  /**
   * A zeroed buffer for the plaintext of `count` consecutive chunks, the last `lastLength`
   * bytes long: chunk `k` goes at `k * chunkSize`. Pass it to {@link write}, which takes it.
   */
  image(count: number, lastLength: number): Uint8Array {
    return this.#keys.chunks.image((count - 1) * this.#g.chunkSize + lastLength);
  }

  /**
   * Seals and writes consecutive chunks starting at `first` in one write call. `plain` holds
   * chunk `k` at `k * chunkSize` ({@link image}); it is detached (moved to a worker) unless it
   * holds a single chunk (done on this thread).
   */
  async write(first: number, plain: Uint8Array, lengths: number[]): Promise<void> {
    if (lengths.length === 1) return this.#writeOne(first, plain, lengths[0]);
    await this.#tracked("pwrite", async () => {
      await this.#keys.chunks.write(this.#batch(first), plain, lengths);
      settleFile(this.#fd); // while still in flight: the descriptor cannot be closed yet
    });
  }

  /** Drops every slot from chunk `count` on (the file was shortened). */
  truncate(count: number): Promise<void> {
    const want = this.#base + count * this.#slot;
    const st = sysFstat(this.#fd);
    if (typeof st === "number") return Promise.reject(sysError(st, "fstat", this.path));
    if (st.size > want) {
      const r = sysFtruncate(this.#fd, want);
      if (r < 0) return Promise.reject(sysError(r, "ftruncate", this.path));
      settleFile(this.#fd);
    }
    return Promise.resolve();
  }

  /** Makes written chunks durable. */
  async sync(dataOnly: boolean): Promise<void> {
    if (dataOnly) await sysFdatasync(this.#fd, this.path);
    else await sysFsync(this.#fd, this.path);
  }

  /** Closes the file once the reads and writes in flight are done. */
  async close(): Promise<void> {
    while (this.#inFlight > 0) await new Promise<void>((r) => this.#idle = r);
    this.#idle = null;
    this.forgetKey();
    sysClose(this.#fd);
  }
}
