/**
 * Content of a regular file (`o/<sh>/<name>.c`): fixed-size chunks, each sealed on its own with a
 * fresh random nonce under the file's own key, in a fixed-size slot so that a read or write at
 * any offset touches only the chunks involved.
 *
 * Slot `i` starts at `i * slotSize` and holds `len(u32 LE) || nonce || ciphertext(len) || tag`.
 * The associated data binds the format version, the inode number, the file id and `i`, so a
 * chunk moved to another position or file fails to open. A slot whose length field is zero was
 * never written (a sparse region of the backing file); whether that is a legitimate hole is for
 * the inode record to say.
 */
import { constants, type FileHandle, open } from "node:fs/promises";
import type { AeadKey } from "../crypto/aead.ts";
import { randomBytes } from "../crypto/random.ts";
import { adPrefix, type StoreKeys } from "./keys.ts";
import { DamagedObjectError } from "./record_store.ts";
import { concat, u64le } from "../util/codec.ts";

const LEN_BYTES = 4;

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
  readonly #fh: FileHandle;
  readonly #keys: StoreKeys;
  readonly #key: AeadKey;
  readonly #ad: Uint8Array;
  readonly #g: Geometry;
  readonly #slot: number;
  readonly path: string;

  private constructor(
    path: string,
    fh: FileHandle,
    keys: StoreKeys,
    key: AeadKey,
    ino: bigint,
    fileId: Uint8Array,
    g: Geometry,
  ) {
    this.path = path;
    this.#fh = fh;
    this.#keys = keys;
    this.#key = key;
    this.#g = g;
    this.#slot = slotSize(g);
    // prefix || ino || fileId || index(8, filled per chunk)
    this.#ad = concat(adPrefix("chunk"), u64le(ino), fileId, new Uint8Array(8));
  }

  /** Opens (creating it if missing and writable) the content file of one inode. */
  static async open(
    path: string,
    keys: StoreKeys,
    ino: bigint,
    fileId: Uint8Array,
    g: Geometry,
    writable: boolean,
  ): Promise<ContentFile> {
    const flags = writable ? constants.O_RDWR | constants.O_CREAT : constants.O_RDONLY;
    let fh: FileHandle;
    try {
      fh = await open(path, flags, 0o600);
    } catch (e) {
      // A file with no stored chunk yet has no content file: reads see only holes.
      if (!writable && (e as { code?: string }).code === "ENOENT") {
        fh = await open("/dev/null", constants.O_RDONLY);
      } else throw e;
    }
    return new ContentFile(path, fh, keys, await keys.fileKey(ino, fileId), ino, fileId, g);
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
    const span = new Uint8Array(count * this.#slot);
    const { bytesRead } = await this.#fh.read(span, 0, span.length, first * this.#slot);
    const n = this.#g.nonceLength;
    const tasks: Promise<Uint8Array | null>[] = [];
    for (let k = 0; k < count; k++) {
      const off = k * this.#slot;
      if (off + LEN_BYTES > bytesRead) {
        tasks.push(Promise.resolve(null));
        continue;
      }
      const len = new DataView(span.buffer, off, LEN_BYTES).getUint32(0, true);
      if (len === 0) {
        tasks.push(Promise.resolve(null));
        continue;
      }
      const i = first + k;
      const end = off + LEN_BYTES + n + len + 16;
      if (len > this.#g.chunkSize || end > bytesRead) {
        tasks.push(Promise.reject(this.#damaged(i, "chunk is truncated")));
        continue;
      }
      const nonce = span.subarray(off + LEN_BYTES, off + LEN_BYTES + n);
      const sealed = span.subarray(off + LEN_BYTES + n, end);
      tasks.push(
        this.#keys.aead.open(this.#key, nonce, sealed, this.#adFor(i)).then((pt) => {
          if (!pt) throw this.#damaged(i, "chunk failed authentication");
          return pt;
        }),
      );
    }
    return await Promise.all(tasks);
  }

  #damaged(i: number, why: string): DamagedObjectError {
    return new DamagedObjectError(this.path, `${why} (chunk ${i})`);
  }

  /** Seals and writes consecutive chunks starting at `first`, in one write call. */
  async write(first: number, plaintexts: Uint8Array[]): Promise<void> {
    const n = this.#g.nonceLength;
    const nonces = plaintexts.map(() => randomBytes(n));
    const sealed = await Promise.all(
      plaintexts.map((pt, k) =>
        this.#keys.aead.seal(this.#key, nonces[k], pt, this.#adFor(first + k))
      ),
    );
    // All slots but the last are padded to full size so one positional write covers the span.
    const last = plaintexts.length - 1;
    const buf = new Uint8Array(last * this.#slot + LEN_BYTES + n + sealed[last].length);
    const dv = new DataView(buf.buffer);
    for (let k = 0; k < sealed.length; k++) {
      const off = k * this.#slot;
      dv.setUint32(off, plaintexts[k].length, true);
      buf.set(nonces[k], off + LEN_BYTES);
      buf.set(sealed[k], off + LEN_BYTES + n);
    }
    await this.#writeAll(buf, first * this.#slot);
  }

  async #writeAll(buf: Uint8Array, pos: number): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await this.#fh.write(buf, done, buf.length - done, pos + done);
      done += bytesWritten;
    }
  }

  /** Drops every slot from chunk `count` on (the file was shortened). */
  async truncate(count: number): Promise<void> {
    const stat = await this.#fh.stat();
    const want = count * this.#slot;
    if (stat.size > want) await this.#fh.truncate(want);
  }

  /** Makes written chunks durable. */
  async sync(dataOnly: boolean): Promise<void> {
    if (dataOnly) await this.#fh.datasync();
    else await this.#fh.sync();
  }

  async close(): Promise<void> {
    await this.#fh.close();
  }
}
