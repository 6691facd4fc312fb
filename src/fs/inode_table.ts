/**
 * The live inodes: records loaded from the store, their reference counts (kernel lookups and
 * open handles), dirty state and open content files. Clean, unreferenced inodes are evicted so
 * memory stays bounded; an unlinked inode is deleted from disk once nothing references it.
 */
import type { ContentFile } from "../store/content_file.ts";
import { cloneRecord, type InodeRecord } from "../store/inode_record.ts";
import { DamagedObjectError, type RecordStore } from "../store/record_store.ts";
import { KeyedMutex, Mutex } from "../util/mutex.ts";
import { fsError } from "./errors.ts";

/** Most clean, unreferenced inodes kept in memory. */
export const INODE_CACHE_LIMIT = 20_000;
const EVICT_IDLE_MS = 30_000;

/** One live inode. */
export class Inode {
  rec: InodeRecord;
  /** The in-memory record differs from the one on disk. */
  dirty = false;
  lookups = 0;
  opens = 0;
  content: ContentFile | null = null;
  contentOpening: Promise<ContentFile> | null = null;
  /** Serialises writes that grow the file and truncations (size and hole bookkeeping). */
  readonly extendLock = new Mutex();
  /** One lock per chunk: read-modify-write of a chunk is never interleaved. */
  readonly chunkLocks = new KeyedMutex<number>();
  /** Serialises record writes so an older snapshot never lands after a newer one. */
  readonly saveLock = new Mutex();
  /** When an operation last fetched this inode (ms): recently used inodes are never evicted. */
  touched = performance.now();

  constructor(rec: InodeRecord) {
    this.rec = rec;
  }

  get ino(): bigint {
    return this.rec.ino;
  }

  get referenced(): boolean {
    return this.lookups > 0 || this.opens > 0;
  }
}

/** Reports a damaged object once per path. */
export type DamageReporter = (e: DamagedObjectError) => void;

/** The table of live inodes over a record store. */
export class InodeTable {
  readonly #live = new Map<bigint, Inode>();
  readonly #loading = new Map<bigint, Promise<Inode | null>>();

  constructor(readonly records: RecordStore, readonly onDamaged: DamageReporter) {}

  /** The live inode, loading it if needed; ENOENT if it does not exist, EIO if damaged. */
  async get(ino: bigint): Promise<Inode> {
    const node = this.#live.get(ino) ?? await this.#load(ino);
    if (!node) throw fsError("ENOENT", `inode ${ino}`);
    node.touched = performance.now();
    return node;
  }

  /** The live inode if loaded, without I/O. */
  peek(ino: bigint): Inode | undefined {
    return this.#live.get(ino);
  }

  #load(ino: bigint): Promise<Inode | null> {
    let p = this.#loading.get(ino);
    if (!p) {
      p = this.records.load(ino).then((rec) => {
        const existing = this.#live.get(ino);
        if (existing) return existing;
        if (!rec) return null;
        const node = new Inode(rec);
        this.#live.set(ino, node);
        this.#evict();
        return node;
      }, (e) => {
        if (e instanceof DamagedObjectError) {
          this.onDamaged(e);
          throw fsError("EIO", e.message, { cause: e });
        }
        throw e;
      }).finally(() => this.#loading.delete(ino));
      this.#loading.set(ino, p);
    }
    return p;
  }

  /** Adds a freshly created inode (its record already on disk). */
  add(rec: InodeRecord): Inode {
    const node = new Inode(rec);
    this.#live.set(rec.ino, node);
    this.#evict();
    return node;
  }

  /** Writes the record of `node` if dirty (or always with `force`). */
  async save(node: Inode, opts: { durable?: boolean; force?: boolean } = {}): Promise<void> {
    await node.saveLock.run(async () => {
      if (!node.dirty && !opts.force) return;
      const snapshot = cloneRecord(node.rec);
      node.dirty = false;
      try {
        await this.records.save(snapshot, opts.durable ?? false);
      } catch (e) {
        node.dirty = true;
        throw e;
      }
    });
  }

  /** Every dirty inode. */
  dirty(): Inode[] {
    return [...this.#live.values()].filter((n) => n.dirty);
  }

  /** Every inode with an open content file. */
  withContent(): Inode[] {
    return [...this.#live.values()].filter((n) => n.content);
  }

  /** Forgets an inode whose objects were deleted. */
  drop(ino: bigint): void {
    this.#live.delete(ino);
  }

  get size(): number {
    return this.#live.size;
  }

  // Evicts clean, unreferenced inodes not used for a while, oldest first. The idle time
  // guarantees no operation still holds the object, so no inode ever has two live copies.
  #evict(): void {
    if (this.#live.size <= INODE_CACHE_LIMIT) return;
    const idleBefore = performance.now() - EVICT_IDLE_MS;
    for (const [ino, node] of this.#live) {
      if (this.#live.size <= INODE_CACHE_LIMIT * 0.9) break;
      if (
        !node.dirty && !node.referenced && !node.content && !node.contentOpening &&
        node.touched < idleBefore
      ) {
        this.#live.delete(ino);
      }
    }
  }
}
