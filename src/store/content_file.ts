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
import {
  closeSync,
  constants,
  fdatasync,
  fstatSync,
  fsync,
  ftruncateSync,
  openSync,
  read,
  write,
  writeSync,
} from "node:fs";
import { promisify } from "node:util";
import { SAFE_OPEN } from "./object_io.ts";
import { randomBytes } from "../crypto/random.ts";
import { adPrefix, type StoreKeys } from "./keys.ts";
import { DamagedObjectError } from "./record_store.ts";
import { concat, u64le } from "../util/codec.ts";

const LEN_BYTES = 4;
/** Writes up to this size go straight into the page cache with one synchronous call. */
const SYNC_WRITE_MAX = 128 * 1024;
const readAsync = promisify(read);
const writeAsync = promisify(write);
const fsyncAsync = promisify(fsync);
const fdatasyncAsync = promisify(fdatasync);

/** Chunk geometry of a data dir. */
export interface Geometry {
  chunkSize: number;
  nonceLength: number;
}

/** Bytes one chunk slot occupies on disk. */
export function slotSize(g: Geometry): number {
  return LEN_BYTES + g.nonceLength + g.chunkSize + 16;
}

/** An open content file. */
export class ContentFile {
  readonly #fd: number;
  readonly #keys: StoreKeys;
  readonly #key: Uint8Array;
  readonly #ad: Uint8Array;
  readonly #g: Geometry;
  readonly #slot: number;
  readonly #base: number;
  readonly path: string;

  private constructor(
    path: string,
    fd: number,
    keys: StoreKeys,
    key: Uint8Array,
    ino: bigint,
    fileId: Uint8Array,
    g: Geometry,
    base: number,
  ) {
    this.path = path;
    this.#base = base;
    this.#fd = fd;
    this.#keys = keys;
    this.#key = key;
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
    // Opened with small synchronous calls (see object_io.ts): a thread hop would cost more.
    let fd: number;
    try {
      fd = openSync(path, (writable ? constants.O_RDWR : constants.O_RDONLY) | SAFE_OPEN);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "ELOOP") throw new DamagedObjectError(path, "is a symlink, not an object");
      if (code === "ENOENT") throw new DamagedObjectError(path, "inode file is missing");
      throw e;
    }
    if (!fstatSync(fd).isFile()) {
      closeSync(fd);
      throw new DamagedObjectError(path, "is not a regular file");
    }
    return new ContentFile(path, fd, keys, keys.fileKey(ino, fileId), ino, fileId, g, base);
  }

  #adFor(i: number): Uint8Array {
    const ad = this.#ad.slice();
    new DataView(ad.buffer).setBigUint64(ad.length - 8, BigInt(i), true);
    return ad;
  }

  /**
   * Reads chunks `first .. first+count-1`. Each result is the chunk's plaintext, or null for a
   * slot that was never written. Throws DamagedObjectError when a chunk fails to authenticate.
   */
  async read(first: number, count: number): Promise<(Uint8Array | null)[]> {
    // One positional read per crypto worker's share, into its own buffer (moved, not copied).
    const groups = this.#keys.pool.partition(count);
    const spans = await Promise.all(groups.map(async ([a, b]) => {
      const span = new Uint8Array((b - a) * this.#slot);
      const { bytesRead } = await readAsync(
        this.#fd,
        span,
        0,
        span.length,
        this.#base + (first + a) * this.#slot,
      );
      return { a, b, span, bytesRead };
    }));
    const n = this.#g.nonceLength;
    const out: (Uint8Array | null)[] = new Array(count).fill(null);
    const jobs: { k: number; nonce: Uint8Array; input: Uint8Array; ad: Uint8Array }[] = [];
    for (const { a, b, span, bytesRead } of spans) {
      for (let k = a; k < b; k++) {
        const off = (k - a) * this.#slot;
        if (off + LEN_BYTES > bytesRead) continue;
        const len = new DataView(span.buffer, off, LEN_BYTES).getUint32(0, true);
        if (len === 0) continue;
        const i = first + k;
        const end = off + LEN_BYTES + n + len + 16;
        if (len > this.#g.chunkSize || end > bytesRead) {
          throw this.#damaged(i, "chunk is truncated");
        }
        jobs.push({
          k,
          nonce: span.subarray(off + LEN_BYTES, off + LEN_BYTES + n),
          input: span.subarray(off + LEN_BYTES + n, end),
          ad: this.#adFor(i),
        });
      }
    }
    if (jobs.length === 0) return out;
    const opened = await this.#keys.pool.open(this.#key, jobs);
    for (let j = 0; j < jobs.length; j++) {
      const pt = opened[j];
      if (!pt) throw this.#damaged(first + jobs[j].k, "chunk failed authentication");
      out[jobs[j].k] = pt;
    }
    return out;
  }

  #damaged(i: number, why: string): DamagedObjectError {
    return new DamagedObjectError(this.path, `${why} (chunk ${i})`);
  }

  /** Seals and writes consecutive chunks starting at `first`, in one write call. */
  async write(first: number, plaintexts: Uint8Array[]): Promise<void> {
    const n = this.#g.nonceLength;
    const nonces = plaintexts.map(() => randomBytes(n));
    const lengths = plaintexts.map((p) => p.length);
    const sealed = await this.#keys.pool.seal(
      this.#key,
      plaintexts.map((pt, k) => ({ nonce: nonces[k], input: pt, ad: this.#adFor(first + k) })),
    );
    // All slots but the last are padded to full size so one positional write covers the span.
    const last = plaintexts.length - 1;
    const buf = new Uint8Array(last * this.#slot + LEN_BYTES + n + sealed[last].length);
    const dv = new DataView(buf.buffer);
    for (let k = 0; k < sealed.length; k++) {
      const off = k * this.#slot;
      dv.setUint32(off, lengths[k], true);
      buf.set(nonces[k], off + LEN_BYTES);
      buf.set(sealed[k], off + LEN_BYTES + n);
    }
    await this.#writeAll(buf, this.#base + first * this.#slot);
  }

  async #writeAll(buf: Uint8Array, pos: number): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      done += buf.length - done <= SYNC_WRITE_MAX
        ? writeSync(this.#fd, buf, done, buf.length - done, pos + done)
        : (await writeAsync(this.#fd, buf, done, buf.length - done, pos + done)).bytesWritten;
    }
  }

  /** Drops every slot from chunk `count` on (the file was shortened). */
  truncate(count: number): Promise<void> {
    const want = this.#base + count * this.#slot;
    if (fstatSync(this.#fd).size > want) ftruncateSync(this.#fd, want);
    return Promise.resolve();
  }

  /** Makes written chunks durable. */
  async sync(dataOnly: boolean): Promise<void> {
    if (dataOnly) await fdatasyncAsync(this.#fd);
    else await fsyncAsync(this.#fd);
  }

  close(): Promise<void> {
    this.#key.fill(0);
    closeSync(this.#fd);
    return Promise.resolve();
  }
}
