/** Reads and writes sealed inode records (`o/<sh>/<name>.m`), one file per inode. */
import { mkdir, rm, unlink } from "node:fs/promises";
import { FolderGuard, NotAnObjectError, readObject } from "./object_io.ts";
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

  /** Loads a record; `null` when it does not exist, DamagedObjectError when it fails to open. */
  async load(ino: bigint): Promise<InodeRecord | null> {
    const { record: path, shard } = this.paths(ino);
    if (!(await this.checkFolder(shard))) return null;
    let blob: Uint8Array | null;
    try {
      blob = await readObject(path, MAX_RECORD_BYTES);
    } catch (e) {
      if (e instanceof NotAnObjectError) throw new DamagedObjectError(path, e.message);
      throw e;
    }
    if (!blob) return null;
    try {
      const r = decodeRecord(await openBlob(this.keys, MAGIC, u64le(ino), blob));
      if (r.ino !== ino) throw new CorruptObjectError("inode number mismatch");
      return r;
    } catch (e) {
      if (e instanceof CorruptObjectError || e instanceof DecodeError) {
        throw new DamagedObjectError(path, e.message);
      }
      throw e;
    }
  }

  /** Replaces a record atomically (never torn); `durable` also makes it survive a power cut. */
  async save(r: InodeRecord, durable = false): Promise<void> {
    const p = this.paths(r.ino);
    const blob = await sealBlob(this.keys, MAGIC, u64le(r.ino), encodeRecord(r));
    await this.checkFolder(p.shard);
    try {
      await writeFileAtomic(p.record, blob, durable);
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") throw e;
      await mkdir(p.shard, { recursive: true });
      await writeFileAtomic(p.record, blob, durable);
    }
  }

  /** Deletes every object of an inode (record last, so a crash leaves nothing half-deleted). */
  async remove(ino: bigint): Promise<void> {
    const p = this.paths(ino);
    if (!(await this.checkFolder(p.shard))) return;
    this.guard.forget(p.entries);
    await rm(p.content, { force: true });
    await rm(p.entries, { force: true, recursive: true });
    await unlink(p.record).catch((e) => {
      if ((e as { code?: string }).code !== "ENOENT") throw e;
    });
  }
}
