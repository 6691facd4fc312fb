/**
 * The inode file (`o/<sh>/<name>.m`), one per inode:
 *
 *   header(16) = "RNCI" || version(1) || 0(3) || slot size S (u32) || 0(4)
 *   slot 0 at 16, slot 1 at 16 + S: len(u32) || sealed record
 *   content chunks of a regular file from 16 + 2S on (see content_file.ts)
 *
 * The two slots let a record be replaced in place without ever being torn: the new version goes
 * into the slot not holding the current one, and the valid slot with the higher sequence
 * number wins. Regular files have fixed 4088-byte slots, so header and slots fill exactly 8 KiB and
 * their chunks start block-aligned after them; other inodes' slots
 * grow by rewriting the file.
 */
import { closeSync, constants, fdatasync, mkdirSync, openSync, rmSync, unlinkSync } from "node:fs";
import { promisify } from "node:util";
import { FolderGuard, NotAnObjectError, readHead, SAFE_OPEN, writeAllSync } from "./object_io.ts";
import { writeFileAtomic } from "./atomic_file.ts";
import { decodeRecord, encodeRecord, type InodeRecord, isRegular } from "./inode_record.ts";
import { MAX_HOLES } from "./holes.ts";
import { concat } from "../util/codec.ts";
import type { StoreKeys } from "./keys.ts";
import { type ObjectPaths, objectPaths } from "./layout.ts";
import { CorruptObjectError, openBlob, sealBlob } from "./sealed_blob.ts";
import { u64le } from "../util/codec.ts";
import { DecodeError } from "../util/codec.ts";

const MAGIC = new TextEncoder().encode("RNCM");
/** Largest sealed record: xattrs are capped at 256 KiB, symlink targets at 4 KiB. */
export const MAX_RECORD_BYTES = 1024 * 1024;

const fdatasyncAsync = promisify(fdatasync);

/** A loaded record, the slot (0 or 1) that holds it, and the file's slot size. */
export interface LoadedRecord {
  rec: InodeRecord;
  slot: 0 | 1;
  slotSize: number;
}

const FILE_MAGIC = new TextEncoder().encode("RNCI");
const FILE_VERSION = 1;
/** Bytes before slot 0. */
export const HEADER_BYTES = 16;
/** Slot size of regular files, whose chunks follow the slots: records must fit in it. */
export const REGULAR_SLOT = 4088;

// Slot size for other inodes: 4-byte length + blob, rounded up to 512 bytes with room to grow.
function slotSizeFor(blobLength: number): number {
  return Math.ceil((blobLength + 4 + 256) / 512) * 512;
}

/** Where the content chunks of an inode file with slots of `slotSize` bytes start. */
export function contentBase(slotSize: number): number {
  return HEADER_BYTES + 2 * slotSize;
}

function header(slotSize: number): Uint8Array {
  const h = new Uint8Array(HEADER_BYTES);
  h.set(FILE_MAGIC, 0);
  h[4] = FILE_VERSION;
  new DataView(h.buffer).setUint32(8, slotSize, true);
  return h;
}

/** A record too large for the fixed slots of a regular file (too many extended attributes). */
export class RecordTooLargeError extends Error {}

/** A record or entry file exists but is damaged or forged; `path` names it for the log. */
export class DamagedObjectError extends Error {
  constructor(readonly path: string, reason: string) {
    super(`damaged object ${path}: ${reason}`);
  }
}

/** Inode records of one data dir. */
export class RecordStore {
  /** Checks, once each, that the folders objects go into are real directories. */
  readonly guard = new FolderGuard();

  constructor(readonly root: string, readonly keys: StoreKeys) {}

  /** Whether folder `path` exists as a real directory; DamagedObjectError for a planted link. */
  async checkFolder(path: string): Promise<boolean> {
    try {
      return await this.guard.check(path);
    } catch (e) {
      if (e instanceof NotAnObjectError) throw new DamagedObjectError(path, e.message);
      throw e;
    }
  }

  paths(ino: bigint): ObjectPaths {
    return objectPaths(this.root, this.keys.objectName(ino));
  }

  /**
   * Loads a record: the newer valid one of its two slots. `null` when it does not exist,
   * DamagedObjectError when neither slot opens.
   */
  async load(ino: bigint): Promise<LoadedRecord | null> {
    const { record: path, shard } = this.paths(ino);
    if (!(await this.checkFolder(shard))) return null;
    let file: Uint8Array | null;
    try {
      file = readHead(path, (head) => {
        if (head.length < HEADER_BYTES) return HEADER_BYTES;
        const size = new DataView(head.buffer, head.byteOffset, HEADER_BYTES).getUint32(8, true);
        return HEADER_BYTES + 2 * Math.min(size, MAX_RECORD_BYTES);
      });
    } catch (e) {
      if (e instanceof NotAnObjectError) throw new DamagedObjectError(path, e.message);
      throw e;
    }
    if (!file) return null;
    const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
    if (
      file.length < HEADER_BYTES || FILE_MAGIC.some((b, k) => file[k] !== b) ||
      file[4] !== FILE_VERSION
    ) {
      throw new DamagedObjectError(path, "not an inode file (bad header)");
    }
    const slotSize = dv.getUint32(8, true);
    if (slotSize < 512 || slotSize > MAX_RECORD_BYTES) {
      throw new DamagedObjectError(path, `bad slot size ${slotSize}`);
    }
    let best: LoadedRecord | null = null;
    let why = "no valid slot";
    for (const slot of [0, 1] as const) {
      const at = HEADER_BYTES + slot * slotSize;
      // A slot past the end of the file was never written (left sparse).
      if (at + 4 > file.length) continue;
      const len = dv.getUint32(at, true);
      if (len === 0) continue;
      try {
        if (len > slotSize - 4 || at + 4 + len > file.length) {
          throw new CorruptObjectError("slot length out of range");
        }
        const r = decodeRecord(
          await openBlob(this.keys, MAGIC, u64le(ino), file.subarray(at + 4, at + 4 + len)),
        );
        if (r.ino !== ino) throw new CorruptObjectError("inode number mismatch");
        if (!best || r.seq > best.rec.seq) best = { rec: r, slot, slotSize };
      } catch (e) {
        if (!(e instanceof CorruptObjectError || e instanceof DecodeError)) throw e;
        why = e.message; // a torn or damaged slot: the other one may still be good
      }
    }
    if (!best) throw new DamagedObjectError(path, why);
    return best;
  }

  /** Whether a record fits the slots of its file (regular files' slots never grow). */
  fits(r: InodeRecord, slotSize: number): boolean {
    if (!isRegular(r)) return true;
    // Sealed size without sealing: blob header (5), nonce, plaintext, tag (16); room is kept
    // for the largest hole list the record may grow to.
    const sealed = 5 + this.keys.metaAead.nonceLength + encodeRecord(r).length + 16;
    return sealed + 4 + MAX_HOLES * 16 <= slotSize;
  }

  // The bytes of a slot that matter: length and blob (the rest of the slot is never read).
  #slotImage(blob: Uint8Array): Uint8Array {
    const img = new Uint8Array(4 + blob.length);
    new DataView(img.buffer).setUint32(0, blob.length, true);
    img.set(blob, 4);
    return img;
  }

  /** Creates the inode file of a new inode, its record in slot 0; returns the slot size. */
  async create(r: InodeRecord, durable = false): Promise<number> {
    const p = this.paths(r.ino);
    const blob = await sealBlob(this.keys, MAGIC, u64le(r.ino), encodeRecord(r));
    const slotSize = isRegular(r) ? REGULAR_SLOT : slotSizeFor(blob.length);
    if (blob.length + 4 > slotSize) throw new RecordTooLargeError("record too large");
    const file = concat(header(slotSize), this.#slotImage(blob));
    if (!(await this.checkFolder(p.shard))) mkdirSync(p.shard, { recursive: true });
    // Written in place, not via a temporary file: until an entry points at this inode a torn
    // record is an unreachable orphan, and the entry is written only after this returns.
    const fd = openSync(
      p.record,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | SAFE_OPEN,
      0o600,
    );
    try {
      writeAllSync(fd, file, 0);
      if (durable) await fdatasyncAsync(fd);
    } finally {
      closeSync(fd);
    }
    return slotSize;
  }

  /**
   * Writes a new version of a record into `slot` (the one not holding the current version), in
   * place: a torn write leaves the other slot, so the record reads as before or after, never
   * torn, and no file is created. A record that outgrew its slots is rewritten whole.
   */
  async update(r: InodeRecord, slot: 0 | 1, slotSize: number, durable = false): Promise<number> {
    const p = this.paths(r.ino);
    const blob = await sealBlob(this.keys, MAGIC, u64le(r.ino), encodeRecord(r));
    await this.checkFolder(p.shard);
    if (blob.length + 4 <= slotSize) {
      const fd = openSync(p.record, constants.O_RDWR | SAFE_OPEN);
      try {
        // No fstat needed: O_NOFOLLOW refuses a symlink, O_RDWR a directory, and a write to a
        // FIFO or device placed here fails or lands nowhere that matters.
        const img = this.#slotImage(blob);
        const at = HEADER_BYTES + slot * slotSize;
        writeAllSync(fd, img, at);
        if (durable) await fdatasyncAsync(fd);
        return slotSize;
      } finally {
        closeSync(fd);
      }
    }
    // Regular files' slots cannot grow: their chunks follow.
    if (isRegular(r)) throw new RecordTooLargeError(`record of ${p.record} exceeds its slot`);
    // Outgrown: a new file with bigger slots replaces the old one atomically.
    const size = slotSizeFor(blob.length);
    const file = new Uint8Array(HEADER_BYTES + 2 * size);
    file.set(header(size), 0);
    file.set(this.#slotImage(blob), HEADER_BYTES + slot * size);
    await writeFileAtomic(p.record, file, durable);
    return size;
  }

  /** Deletes every object of an inode (record last, so a crash leaves nothing half-deleted). */
  async remove(ino: bigint, isDirectory: boolean): Promise<void> {
    const p = this.paths(ino);
    if (!(await this.checkFolder(p.shard))) return;
    if (isDirectory) {
      this.guard.forget(p.entries);
      rmSync(p.entries, { force: true, recursive: true });
    }
    try {
      unlinkSync(p.record);
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") throw e;
    }
  }
}
