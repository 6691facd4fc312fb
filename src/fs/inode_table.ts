/**
 * The live inodes: records loaded from the store, their reference counts (kernel lookups and
 * open handles), dirty state and open content files. Clean, unreferenced inodes are evicted so
 * memory stays bounded; an unlinked inode is deleted from disk once nothing references it.
 */
import { SyncClock } from "../store/chunk_pairs.ts";
import { cloneRecord, type InodeRecord, isDir } from "../store/inode_record.ts";
import {
  DamagedObjectError,
  type LoadedRecord,
  type RecordPlace,
  type RecordStore,
} from "../store/record_store.ts";
import { forEachBounded } from "../util/bounded.ts";
import { fsError } from "./errors.ts";
import { type EntryLoc, Inode } from "./inode.ts";
import { liveInodeLimit } from "../util/memory_budget.ts";

export { type EntryLoc, Inode } from "./inode.ts";

/**
 * Live inodes above which clean, unused ones are evicted: a share of the memory ceiling
 * (src/util/memory_budget.ts), lowered while memory stays near it (src/util/inode_share.ts).
 * Inodes the kernel still knows are counted too; the mount asks the kernel to forget the oldest
 * of them (see {@link InodeTable.forgettable}).
 */
export function inodeCacheLimit(): number {
  return liveInodeLimit();
}
/**
 * Unused this long, an inode is held by no operation: the kernel forgets an inode only after
 * its last request was answered, and the table's own users are done within milliseconds.
 */
const EVICT_IDLE_MS = 5_000;
/** Records written at once by one save pass. */
const SAVE_CONCURRENCY = 16;
/** Past the limit, scan for evictable inodes at most every this many additions or ms. */
const EVICT_SCAN_EVERY = 1000;
const EVICT_SCAN_MS = 1000;

/** Reports a damaged object once per path. */
export type DamageReporter = (e: DamagedObjectError) => void;

/** The table of live inodes over a record store. */
export class InodeTable {
  readonly #live = new Map<bigint, Inode>();
  readonly #loading = new Map<bigint, Promise<Inode | null>>();
  /** Bumped by every change to the names on disk (see namespaceChanged). */
  #namesChanged = 0;
  /** The value of #namesChanged that the last completed syncfs covered. */
  #namesSynced = 0;
  #addsSinceScan = 0;
  #lastScan = 0;
  /** Inodes in a save pass (snapshot taken, record not yet written or given up), with a count. */
  readonly #saving = new Map<Inode, number>();
  /** Told of each inode evicted (clean, its record on disk), before it goes. */
  onEvicted: ((node: Inode) => void) | null = null;

  constructor(
    readonly records: RecordStore,
    readonly onDamaged: DamageReporter,
    /** syncfs(2) of the data dir's filesystem. */
    readonly syncFs: () => Promise<void>,
  ) {}

  /**
   * Notes that names on disk changed (a file created, linked, unlinked or renamed, a folder or
   * object made or removed): until the next syncfs, an fsync must sync the whole data dir's
   * filesystem for its file's name and its parents' to survive a power cut.
   */
  namespaceChanged(): void {
    this.#namesChanged++;
  }

  /** True when every name change so far is on stable storage. */
  get namespaceSynced(): boolean {
    return this.#namesSynced === this.#namesChanged;
  }

  /**
   * Whether `node`'s record can be written without a syncfs first: it covers no chunks that are
   * not yet durable, and its last move is durable (see Durability.movedAt).
   */
  writableNow(node: Inode): boolean {
    return node.durability.growthSynced && !this.#moveUnsynced(node);
  }

  #moveUnsynced(node: Inode): boolean {
    return node.durability.moveUnsynced(this.clock.syncedUpTo);
  }

  // Nothing about `node` on disk waits for a sync (its last record write, its last move, a
  // trim): only such an inode may be forgotten, since a reload takes the newest slot as kept.
  // A snapshot taken by a save pass leaves the inode clean before its record is written (it may
  // wait for a sync first): until the pass is over, the slot the inode will next be read from
  // is not known.
  #settled(node: Inode): boolean {
    const d = node.durability;
    return !this.#saving.has(node) && d.slotSynced(this.clock.syncedUpTo) &&
      !this.#moveUnsynced(node) && d.trimTo === null && (node.pairs?.settled() ?? true);
  }

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
      p = this.records.load(this.records.objectPlace(ino)).then((loaded) => {
        const existing = this.#live.get(ino);
        if (existing) return existing;
        if (!loaded) return null;
        const node = new Inode(loaded.rec, loaded.slot, loaded.slotSize);
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
  add(rec: InodeRecord, slotSize: number, loc: EntryLoc | null = null): Inode {
    const node = new Inode(rec, 0, slotSize, loc);
    this.#live.set(rec.ino, node);
    this.#evict();
    return node;
  }

  /**
   * The live inode of a record read from entry file `loc`: the one already live (its memory is
   * newer than the disk) or a new one.
   */
  adopt(loaded: LoadedRecord, loc: EntryLoc): Inode {
    const ino = loaded.rec.ino;
    let node = this.#live.get(ino);
    if (!node) {
      node = new Inode(loaded.rec, loaded.slot, loaded.slotSize, loc);
      this.#live.set(ino, node);
      this.#evict();
    }
    node.touched = performance.now();
    return node;
  }

  /** Where the record of `node` lives now. */
  place(node: Inode): RecordPlace {
    const l = node.loc;
    return l
      ? this.records.entryPlace(l.parent, l.folder, l.file)
      : this.records.objectPlace(node.ino);
  }

  /** The backing file holding the record and content of `node`. */
  path(node: Inode): string {
    return node.durability.keptPath ?? this.place(node).path;
  }

  /**
   * Moves the inode file of `node` from its entry file to entry `to` (rename, replacing what
   * was there) or to its object place (`to` null: a hard link, after which the caller replaces
   * the old entry file with a pointer). The record written covers the chunks stored so far, so
   * it waits for them to be synced first.
   */
  async relocate(
    node: Inode,
    to: EntryLoc | null,
    after?: () => Promise<void>,
  ): Promise<void> {
    const from = node.loc;
    if (!from) throw new Error("relocate: not in an entry file");
    const d = node.durability;
    if (!this.writableNow(node)) {
      const growth = d.growth;
      await this.syncData();
      d.growthDurable(growth);
    }
    await node.saveLock.run(async () => {
      if (d.deleted) return;
      const rec = cloneRecord(node.rec);
      const seq = d.saving();
      rec.seq = BigInt(seq);
      d.writing(seq);
      const target = await this.#target(node);
      const before = { slotSize: node.slotSize, kept: d.keptSlot };
      const fromPlace = this.place(node);
      const toPlace = to
        ? this.records.entryPlace(to.parent, to.folder, to.file)
        : this.records.objectPlace(node.ino);
      try {
        const moved = await this.records.relocate(
          rec,
          target,
          node.slotSize,
          fromPlace,
          from.name,
          toPlace,
          to?.name,
          to ? "rename" : "link",
          // The new place takes effect in the same synchronous step as the rename.
          () => node.loc = to,
        );
        // The moved slot was synced before the move; the other one does not open there, but
        // holds the record for the old place until the move is durable.
        d.moved(moved.slot, this.clock.started);
        node.slotSize = moved.slotSize;
      } catch (e) {
        // The free slot may now hold a record for the place the file did not reach: only the
        // kept one is known to open where it is.
        d.moveFailed();
        throw e;
      }
      // Still under the save lock: no record write can land between the move and what must
      // follow it (the pointer replacing the old entry file, for a move to the object place).
      if (!after) return;
      try {
        await after();
      } catch (e) {
        if (to) throw e;
        // The entry file could not become a pointer: it stays the inode's file (its own slot
        // still opens there); the object twin goes.
        this.records.dropObject(node.ino);
        node.loc = from;
        d.moveUndone(before.kept);
        node.slotSize = before.slotSize;
        throw e;
      }
    });
  }

  /**
   * Writes the record of `node` if dirty (or always with `force`). A record that newly covers
   * chunks is written only after those chunks are on stable storage (one syncfs, shared by
   * every record waiting for it), so after a power cut a record never points at chunks that
   * did not make it to disk.
   */
  async save(node: Inode, opts: { durable?: boolean; force?: boolean } = {}): Promise<void> {
    if (!node.durability.dirty && !opts.force) return;
    await this.saveMany([node], opts.durable ?? false);
  }

  /** Writes the records of `nodes` (snapshots taken now) with at most one syncfs. */
  async saveMany(nodes: Inode[], durable = false): Promise<void> {
    const snaps = nodes.map((node) => {
      const d = node.durability;
      const snap = { node, rec: cloneRecord(node.rec), seq: d.saving(), growth: d.growth };
      snap.rec.seq = BigInt(snap.seq);
      this.#saving.set(node, (this.#saving.get(node) ?? 0) + 1);
      return snap;
    });
    try {
      if (
        snaps.some((s) => s.growth > s.node.durability.syncedGrowth || this.#moveUnsynced(s.node))
      ) {
        await this.syncData();
        for (const s of snaps) s.node.durability.growthDurable(s.growth);
      }
      // A few at a time: a background pass after an untar saves thousands of records, and all
      // at once held every one's sealing buffers together (daemon RSS jumped by ~40 MiB).
      let overtaken = false;
      await forEachBounded(snaps, SAVE_CONCURRENCY, (s) =>
        s.node.saveLock.run(async () => {
          const d = s.node.durability;
          if (d.deleted || d.gone) return;
          // A newer snapshot already written makes this one obsolete; a durable save must
          // still make that newer one durable (below).
          if (!d.writing(s.seq)) {
            overtaken = true;
            return;
          }
          const target = await this.#target(s.node);
          const before = s.node.slotSize;
          s.node.slotSize = await this.records.update(
            s.rec,
            target,
            s.node.slotSize,
            this.place(s.node),
            { durable, name: s.node.loc?.name },
          );
          // An outgrown record was rewritten (durably) as a new file renamed over the old one.
          const rewritten = s.node.slotSize !== before;
          d.saved(target, this.clock.started, durable || rewritten);
          if (rewritten) this.namespaceChanged();
        }).finally(() => s.node.dropIdleLocks()));
      if (durable && overtaken) await this.syncData();
    } catch (e) {
      for (const s of snaps) s.node.durability.saveFailed();
      throw e;
    } finally {
      for (const s of snaps) {
        const n = (this.#saving.get(s.node) ?? 1) - 1;
        if (n > 0) this.#saving.set(s.node, n);
        else this.#saving.delete(s.node);
      }
    }
  }

  #syncRunning: Promise<void> | null = null;
  #syncQueued: Promise<void> | null = null;
  /** syncfs calls started, and the count at the start of the last one that completed. */
  readonly clock = new SyncClock();

  // The slot a new version of `node`'s record goes to: never the kept one. Two updates in a row
  // that alternated slots could otherwise overwrite the only durable version while the newer
  // one is still in the page cache: a power cut then leaves no slot that opens (or an older
  // record, with chunks a shrink has dropped since). The slot last written becomes the kept one
  // once a sync that started after its write has completed. While such a sync runs, that slot
  // is not rewritten either (the caller waits for the sync): an fsync waiting on it was promised
  // exactly that version, and the kept slot holds an older one.
  async #target(node: Inode): Promise<0 | 1> {
    const d = node.durability;
    while (d.slot !== d.keptSlot && d.slotWrittenAt >= 0) {
      if (this.clock.covers(d.slotWrittenAt)) d.slotDurable();
      else {
        const running = this.clock.covering(d.slotWrittenAt);
        if (!running) break;
        await running;
      }
    }
    return d.freeSlot;
  }

  /**
   * Makes everything written to the data dir so far durable. Callers arriving while a sync
   * runs share the next one, which starts after theirs was requested.
   */
  syncData(): Promise<void> {
    if (!this.#syncRunning) {
      const names = this.#namesChanged;
      const started = this.clock.begin();
      this.#syncRunning = this.syncFs().then(() => {
        this.#namesSynced = Math.max(this.#namesSynced, names);
        this.clock.done(started);
      }, (e) => {
        this.clock.done(started, false);
        throw e;
      }).finally(() => this.#syncRunning = null);
      return this.#syncRunning;
    }
    if (!this.#syncQueued) {
      this.#syncQueued = this.#syncRunning.catch(() => {}).then(() => {
        this.#syncQueued = null;
        return this.syncData();
      });
    }
    return this.#syncQueued;
  }

  /** Every dirty inode. */
  dirty(): Inode[] {
    return [...this.#live.values()].filter((n) => n.durability.dirty);
  }

  /** Every inode with an open content file. */
  withContent(): Inode[] {
    return [...this.#live.values()].filter((n) => n.content);
  }

  /** Deletes an inode's objects and forgets it; no record write can land afterwards. */
  async delete(node: Inode): Promise<void> {
    this.#live.delete(node.ino);
    node.durability.deletedObjects();
    if (node.durability.gone) {
      const kept = node.durability.takeKept();
      if (kept) this.records.trash.release(kept);
      return;
    }
    try {
      await node.saveLock.run(() => this.records.remove(node.ino, isDir(node.rec)));
    } finally {
      this.namespaceChanged();
    }
  }

  get size(): number {
    return this.#live.size;
  }

  /** Whether inodes nobody asked for may still be made live (below the eviction limit). */
  get hasRoom(): boolean {
    return this.#live.size < inodeCacheLimit();
  }

  /**
   * Over the limit: up to `max` of the oldest inodes that only the kernel's lookups keep live
   * (clean, not open, unused for a while, living in the entry file of their one name), for the
   * kernel to forget: once it has, they can be evicted.
   */
  forgettable(max: number): Inode[] {
    const limit = inodeCacheLimit();
    // Those the kernel forgot since the last call go first.
    this.#evict(true);
    if (this.#live.size <= limit) return [];
    const want = Math.min(max, this.#live.size - Math.floor(limit * 0.8));
    const idleBefore = performance.now() - EVICT_IDLE_MS;
    const out: Inode[] = [];
    let unsynced = 0;
    // Insertion order: roughly the oldest first, without sorting a large table.
    for (const node of this.#live.values()) {
      if (out.length >= want) break;
      if (
        node.lookups > 0 && node.opens === 0 && node.loc && !node.durability.dirty &&
        !node.content &&
        !node.contentOpening && node.touched < idleBefore
      ) {
        if (this.#settled(node)) out.push(node);
        else unsynced++;
      }
    }
    if (out.length < want && unsynced > 0) this.#syncForEviction();
    return out;
  }

  #evictSyncAt = -Infinity;

  // Inodes whose last record write awaits a sync cannot be evicted (see #settled): over the
  // limit, a sync is started for them, at most every EVICT_IDLE_MS. Nothing else waits for it.
  #syncForEviction(): void {
    const now = performance.now();
    if (now - this.#evictSyncAt < EVICT_IDLE_MS) return;
    this.#evictSyncAt = now;
    this.syncData().catch(() => {});
  }

  // Evicts clean, unreferenced inodes not used for a while, oldest first. The idle time
  // guarantees no operation still holds the object, so no inode ever has two live copies.
  #evict(force = false): void {
    const limit = inodeCacheLimit();
    if (this.#live.size <= limit) return;
    // A scan is O(live inodes): while nothing can be evicted (the kernel holds every inode of
    // a tree being unpacked), scanning on every addition would make creation quadratic.
    const now = performance.now();
    const due = this.#addsSinceScan++ >= EVICT_SCAN_EVERY || now - this.#lastScan >= EVICT_SCAN_MS;
    if (!due && !force) return;
    this.#addsSinceScan = 0;
    this.#lastScan = now;
    const idleBefore = now - EVICT_IDLE_MS;
    let unsynced = 0;
    for (const [ino, node] of this.#live) {
      if (this.#live.size <= limit * 0.8) break;
      if (
        !node.durability.dirty && !node.referenced && !node.content && !node.contentOpening &&
        node.touched < idleBefore
      ) {
        if (this.#settled(node)) {
          this.onEvicted?.(node);
          this.#live.delete(ino);
        } else unsynced++;
      }
    }
    if (unsynced > 0 && this.#live.size > limit * 0.8) this.#syncForEviction();
  }
}
