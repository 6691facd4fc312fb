/**
 * One live inode: its record as loaded or changed, where it lives, its reference counts, its
 * locks (lock order: see src/util/mutex.ts) and the durability state of its record and chunks
 * (`durability.ts`, moved only through its named transitions).
 */
import type { ContentFile } from "../store/content_file.ts";
import type { ChunkPairs } from "../store/chunk_pairs.ts";
import type { InodeRecord } from "../store/inode_record.ts";
import { KeyedMutex, Mutex, RwLock } from "../util/mutex.ts";
import { Durability } from "./durability.ts";
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

/** A write inside one chunk waiting for the chunk's lock (see FileData #writeInChunk). */
export interface QueuedWrite {
  offset: number;
  data: Uint8Array;
  /** Set once a batch holding this write is being stored: whether it was (false: no longer fits). */
  stored: Promise<boolean> | null;
}

/** One live inode. */
export class Inode {
  rec: InodeRecord;
  /** Where the record lives: the entry file of its only name, or (null) its object place. */
  loc: EntryLoc | null;
  /** Dirty, gone, deleted; record slots, growth, trims: see durability.ts. */
  readonly durability: Durability;
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
  /** Writes waiting for a chunk's lock, by chunk: the first to get it stores them all. */
  #queuedWrites?: Map<number, QueuedWrite[]>;
  get queuedWrites(): Map<number, QueuedWrite[]> {
    return this.#queuedWrites ??= new Map();
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
    if (this.#queuedWrites?.size === 0) this.#queuedWrites = undefined;
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
  /** When an operation last fetched this inode (ms): recently used inodes are never evicted. */
  touched = performance.now();

  /** Slot size of the inode file (its content starts after two slots). */
  slotSize: number;

  constructor(rec: InodeRecord, slot: 0 | 1, slotSize: number, loc: EntryLoc | null = null) {
    this.rec = rec;
    this.loc = loc;
    this.durability = new Durability(Number(rec.seq), slot);
    this.slotSize = slotSize;
  }

  get ino(): bigint {
    return this.rec.ino;
  }

  get referenced(): boolean {
    return this.lookups > 0 || this.opens > 0;
  }
}
