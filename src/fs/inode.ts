/**
 * One live inode: its record as loaded or changed, where it lives, its reference counts, its
 * locks (lock order: see src/util/mutex.ts) and the durability state of its record and chunks
 * that the inode table (`inode_table.ts`) moves it through.
 */
import type { ContentFile } from "../store/content_file.ts";
import type { ChunkPairs } from "../store/chunk_pairs.ts";
import type { InodeRecord } from "../store/inode_record.ts";
import { KeyedMutex, Mutex, RwLock } from "../util/mutex.ts";
import { ReadAhead } from "./read_ahead.ts";

/**
 * The name whose entry file holds an inode's record and content (format 2, an inode with one
 * name that is not a directory).
 */
export interface EntryLoc {
  parent: bigint;
  name: Uint8Array;
  /** The parent's entry folder and the entry file's name in it. */
  folder: string;
  file: string;
}

/** One live inode. */
export class Inode {
  rec: InodeRecord;
  /** Where the record lives: the entry file of its only name, or (null) its object place. */
  loc: EntryLoc | null;
  /** Its entry file was unlinked or replaced: no record is written again. */
  gone = false;
  /** A gone inode still referred to: its file, kept in the trash until the inode is deleted. */
  keptPath: string | null = null;
  /** The in-memory record differs from the one on disk. */
  dirty = false;
  lookups = 0;
  opens = 0;
  content: ContentFile | null = null;
  /** Which chunk slots hold durable versions (paired layout; made at the first content open). */
  pairs: ChunkPairs | null = null;
  contentOpening: Promise<ContentFile> | null = null;
  // Lock order: see src/util/mutex.ts.
  /** Serialises the size and hole bookkeeping of writes that grow the file. */
  #extendLock?: Mutex;
  get extendLock(): Mutex {
    return this.#extendLock ??= new Mutex();
  }
  /** Writes hold it shared, truncation exclusive: no write straddles a size change. */
  #resizeLock?: RwLock;
  get resizeLock(): RwLock {
    return this.#resizeLock ??= new RwLock();
  }
  /** One lock per chunk: read-modify-write of a chunk is never interleaved. */
  #chunkLocks?: KeyedMutex<number>;
  get chunkLocks(): KeyedMutex<number> {
    return this.#chunkLocks ??= new KeyedMutex<number>();
  }
  /** Serialises record writes so an older snapshot never lands after a newer one. */
  #saveLock?: Mutex;
  get saveLock(): Mutex {
    return this.#saveLock ??= new Mutex();
  }
  /**
   * Drops the locks nobody holds or waits for: tens of thousands of inodes stay live while the
   * kernel knows them (after an untar), and an idle lock is as good as a new one.
   */
  dropIdleLocks(): void {
    if (this.#extendLock && !this.#extendLock.busy) this.#extendLock = undefined;
    if (this.#resizeLock?.idle) this.#resizeLock = undefined;
    if (this.#chunkLocks?.idle) this.#chunkLocks = undefined;
    if (this.#saveLock && !this.#saveLock.busy) this.#saveLock = undefined;
  }
  /** Chunks fetched ahead for a sequential reader. */
  #readAhead?: ReadAhead;
  get readAhead(): ReadAhead {
    return this.#readAhead ??= new ReadAhead();
  }
  /** Drops what was fetched ahead (the file changed or was closed). */
  dropReadAhead(): void {
    this.#readAhead?.invalidate();
  }
  /** The inode's objects were deleted: nothing may write its record again. */
  deleted = false;
  /**
   * A shrink left chunk slots from this index on to drop once its record is durable (see
   * FileData.truncate); null when none is pending.
   */
  trimTo: number | null = null;
  /** Shrinks so far: a trim taken before a later shrink waits for that one's record too. */
  shrinks = 0;
  /** Bumped whenever the record starts to cover newly stored chunks (size grew, hole filled). */
  growth = 0;
  /** The `growth` up to which those chunks are known to be on stable storage. */
  syncedGrowth = 0;
  #seq = 0;
  #writtenSeq = 0;

  /** Orders snapshots: a record snapshot older than one already written is never written. */
  nextSeq(): number {
    return ++this.#seq;
  }

  /** Records that snapshot `seq` was written; false if a newer one was written first. */
  markWritten(seq: number): boolean {
    if (seq < this.#writtenSeq) return false;
    this.#writtenSeq = seq;
    return true;
  }

  /** When an operation last fetched this inode (ms): recently used inodes are never evicted. */
  touched = performance.now();

  /** Which of the two record slots on disk holds the current version. */
  slot: 0 | 1;
  /**
   * The slot whose record a power cut cannot take away (known durable, or the one read or
   * created first): never overwritten. Updates go to the other slot, again and again, until a
   * sync makes that one durable (see InodeTable.#target).
   */
  keptSlot: 0 | 1;
  /** InodeTable's count of syncs started when `slot` was last written. */
  slotWrittenAt = -1;
  /**
   * InodeTable's count of syncs started when the inode file last moved (rename, hard link):
   * until a sync started after that completes, the move may be undone by a power cut, and both
   * slots (the record for the old place and the one for the new) must stay as they are.
   */
  movedAt = -1;

  /** Slot size of the inode file (its content starts after two slots). */
  slotSize: number;

  constructor(rec: InodeRecord, slot: 0 | 1, slotSize: number, loc: EntryLoc | null = null) {
    this.rec = rec;
    this.loc = loc;
    this.slot = slot;
    this.keptSlot = slot;
    this.slotSize = slotSize;
    this.#seq = Number(rec.seq);
    this.#writtenSeq = this.#seq;
  }

  get ino(): bigint {
    return this.rec.ino;
  }

  get referenced(): boolean {
    return this.lookups > 0 || this.opens > 0;
  }
}
