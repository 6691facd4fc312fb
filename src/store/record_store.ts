/** Reads and writes sealed inode records (`o/<sh>/<name>.m`), one file per inode. */
import {
  closeSync,
  constants,
  fdatasync,
  fstatSync,
  mkdirSync,
  openSync,
  rmSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { promisify } from "node:util";
import { FolderGuard, NotAnObjectError, readObject, SAFE_OPEN } from "./object_io.ts";
import { writeFileAtomic } from "./atomic_file.ts";
import { decodeRecord, encodeRecord, type InodeRecord } from "./inode_record.ts";
import type { StoreKeys } from "./keys.ts";
import { type ObjectPaths, objectPaths } from "./layout.ts";
import { CorruptObjectError, openBlob, sealBlob } from "./sealed_blob.ts";
import { u64le } from "../util/codec.ts";
import { DecodeError } from "../util/codec.ts";

const MAGIC = new TextEncoder().encode("RNCM");
/** Largest sealed record: xattrs are capped at 256 KiB, symlink targets at 4 KiB. */
export const MAX_RECORD_BYTES = 1024 * 1024;

const fdatasyncAsync = promisify(fdatasync);

/** A loaded record and the slot (0 or 1) that holds it. */
export interface LoadedRecord {
  rec: InodeRecord;
  slot: 0 | 1;
}

// Slot size for a sealed record: 4-byte length + blob, rounded up to 512 bytes with room to grow.
function slotSizeFor(blobLength: number): number {
  return Math.ceil((blobLength + 4 + 256) / 512) * 512;
}

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
      file = await readObject(path, 2 * MAX_RECORD_BYTES);
    } catch (e) {
      if (e instanceof NotAnObjectError) throw new DamagedObjectError(path, e.message);
      throw e;
    }
    if (!file) return null;
    if (file.length === 0 || file.length % 2 !== 0) {
      throw new DamagedObjectError(path, `bad record file length ${file.length}`);
    }
    const half = file.length / 2;
    let best: LoadedRecord | null = null;
    let why = "no valid slot";
    for (const slot of [0, 1] as const) {
      const s = file.subarray(slot * half, (slot + 1) * half);
      const len = new DataView(s.buffer, s.byteOffset, 4).getUint32(0, true);
      if (len === 0) continue; // never written
      try {
        if (len > half - 4) throw new CorruptObjectError("slot length out of range");
        const r = decodeRecord(
          await openBlob(this.keys, MAGIC, u64le(ino), s.subarray(4, 4 + len)),
        );
        if (r.ino !== ino) throw new CorruptObjectError("inode number mismatch");
        if (!best || r.seq > best.rec.seq) best = { rec: r, slot };
      } catch (e) {
        if (!(e instanceof CorruptObjectError || e instanceof DecodeError)) throw e;
        why = e.message; // a torn or damaged slot: the other one may still be good
      }
    }
    if (!best) throw new DamagedObjectError(path, why);
    return best;
  }

  #slotImage(blob: Uint8Array, slotSize: number): Uint8Array {
    const img = new Uint8Array(slotSize);
    new DataView(img.buffer).setUint32(0, blob.length, true);
    img.set(blob, 4);
    return img;
  }

  /** Writes the record of a new inode (slot 0). */
  async create(r: InodeRecord, durable = false): Promise<void> {
    const p = this.paths(r.ino);
    const blob = await sealBlob(this.keys, MAGIC, u64le(r.ino), encodeRecord(r));
    const slot = slotSizeFor(blob.length);
    const file = new Uint8Array(2 * slot);
    file.set(this.#slotImage(blob, slot), 0);
    if (!(await this.checkFolder(p.shard))) mkdirSync(p.shard, { recursive: true });
    // Written in place, not via a temporary file: until an entry points at this inode a torn
    // record is an unreachable orphan, and the entry is written only after this returns.
    const fd = openSync(
      p.record,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | SAFE_OPEN,
      0o600,
    );
    try {
      let done = 0;
      while (done < file.length) done += writeSync(fd, file, done, file.length - done, done);
      if (durable) await fdatasyncAsync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Writes a new version of a record into `slot` (the one not holding the current version), in
   * place: a torn write leaves the other slot, so the record reads as before or after, never
   * torn, and no file is created. A record that outgrew its slots is rewritten whole.
   */
  async update(r: InodeRecord, slot: 0 | 1, durable = false): Promise<void> {
    const p = this.paths(r.ino);
    const blob = await sealBlob(this.keys, MAGIC, u64le(r.ino), encodeRecord(r));
    await this.checkFolder(p.shard);
    const fd = openSync(p.record, constants.O_RDWR | SAFE_OPEN);
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new DamagedObjectError(p.record, "not a regular file");
      const half = st.size / 2;
      if (Number.isInteger(half) && half >= blob.length + 4) {
        const img = this.#slotImage(blob, half);
        let done = 0;
        while (done < img.length) {
          done += writeSync(fd, img, done, img.length - done, slot * half + done);
        }
        if (durable) await fdatasyncAsync(fd);
        return;
      }
    } finally {
      closeSync(fd);
    }
    // Outgrown: a new file with bigger slots replaces the old one atomically.
    const size = slotSizeFor(blob.length);
    const file = new Uint8Array(2 * size);
    file.set(this.#slotImage(blob, size), slot * size);
    await writeFileAtomic(p.record, file, durable);
  }

  /** Deletes every object of an inode (record last, so a crash leaves nothing half-deleted). */
  async remove(ino: bigint): Promise<void> {
    const p = this.paths(ino);
    if (!(await this.checkFolder(p.shard))) return;
    this.guard.forget(p.entries);
    rmSync(p.content, { force: true });
    rmSync(p.entries, { force: true, recursive: true });
    try {
      unlinkSync(p.record);
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") throw e;
    }
  }
}
