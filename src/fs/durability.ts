/**
 * The durability state of one live inode: whether its record differs from the disk, which of its
 * two record slots may be overwritten, whether its newest chunks and its last move are durable,
 * what a shrink left to drop, and whether its entry file or objects are gone. The rules it
 * serves are in docs/format.md, "Crash consistency"; `InodeTable`, `FileData`, `Flusher`,
 * `EntryFiles` and `Namespace` move it only through the transitions below.
 *
 * State machine (each part moves on its own):
 *
 * - **Record**: clean --`changed`--> dirty --`saving` (snapshot, seq n)--> clean; a failed
 *   write (`saveFailed`, `moveFailed`, `moveUndone`) makes it dirty again; `unnamed` (no name
 *   left) and `deletedObjects` make it clean for good. `writing(n)` claims the write of snapshot
 *   n: refused (false) when a newer one was written first, an error once gone or deleted.
 * - **Record slots**: settled (`slot === keptSlot`) --`saved`/`moved`--> written (`slot` holds
 *   the current record, `keptSlot` the durable one, never overwritten) --`slotDurable` (a sync
 *   started after `slotWrittenAt` completed)--> settled. `saved(..., durable)` and `moved`
 *   settle at once (the slot was synced).
 * - **Move**: `moved` stamps `movedAt`; until a sync that started after it completes, both
 *   slots matter and record writes wait for a sync (`InodeTable.writableNow`).
 * - **Growth**: `grew` (the record newly covers stored chunks) puts `growth` ahead of
 *   `syncedGrowth`; `growthDurable(g)` (a sync started after `growth` was `g` completed) catches
 *   up. Never past `growth`.
 * - **Trim**: `shrank(keep)` leaves chunk slots from `keep` on to drop (`trimTo`, and `shrinks`
 *   counts shrinks); the flusher takes them with `trimming` after a sync made the shrunk record
 *   durable, and puts them back with `trimFailed`.
 * - **Lifecycle**: linked --`unlinkedEntry`--> gone (its entry file unlinked or replaced; the
 *   file may be `kept` in the trash as its backing file) --`deletedObjects`--> deleted; or
 *   linked --`deletedObjects`--> deleted. Neither is ever undone, and no record is written after
 *   either (`writing` throws).
 *
 * Locks (order: docs/architecture.md, "Lock order"): `writing`, `saved`, `moved`, `moveFailed`,
 * `moveUndone`, `slotDurable`, `kept` and `unlinkedEntry` run under the inode's `saveLock`
 * (record slots and the backing file change only there); `shrank` under `resizeLock`
 * (exclusive) and `extendLock`; `grew` under the lock of the chunk stored. `changed`, `saving`,
 * `saveFailed`, `unnamed`, `growthDurable`, `trimming`, `trimFailed` and `deletedObjects` need
 * none: each is one synchronous step on the JS thread, and what they order against is a sync
 * (`SyncClock` stamps) rather than a lock.
 * @module
 */

/** The durability state of one inode's record and chunks, changed only by named transitions. */
export class Durability {
  #dirty = false;
  #gone = false;
  #deleted = false;
  #keptPath: string | null = null;
  #trimTo: number | null = null;
  #shrinks = 0;
  #growth = 0;
  #syncedGrowth = 0;
  #seq: number;
  #writtenSeq: number;
  #slot: 0 | 1;
  #keptSlot: 0 | 1;
  #slotWrittenAt = -1;
  #movedAt = -1;

  /** A record loaded or created with sequence number `seq`, read from (or written to) `slot`. */
  constructor(seq: number, slot: 0 | 1) {
    this.#seq = seq;
    this.#writtenSeq = seq;
    this.#slot = slot;
    this.#keptSlot = slot;
  }

  /** Sequence number of the newest record written (the one on disk once the inode is clean). */
  get writtenSeq(): number {
    return this.#writtenSeq;
  }

  /** The in-memory record differs from the one on disk. */
  get dirty(): boolean {
    return this.#dirty;
  }
  /** Its entry file was unlinked or replaced: no record is written again. */
  get gone(): boolean {
    return this.#gone;
  }
  /** The inode's objects were deleted: nothing may write its record again. */
  get deleted(): boolean {
    return this.#deleted;
  }
  /** A gone inode still referred to: its file, kept in the trash until the inode is deleted. */
  get keptPath(): string | null {
    return this.#keptPath;
  }
  /**
   * A shrink left chunk slots from this index on to drop once its record is durable (see
   * FileData.truncate); null when none is pending.
   */
  get trimTo(): number | null {
    return this.#trimTo;
  }
  /** Shrinks so far: a trim taken before a later shrink waits for that one's record too. */
  get shrinks(): number {
    return this.#shrinks;
  }
  /** Bumped whenever the record starts to cover newly stored chunks (size grew, hole filled). */
  get growth(): number {
    return this.#growth;
  }
  /** The `growth` up to which those chunks are known to be on stable storage. */
  get syncedGrowth(): number {
    return this.#syncedGrowth;
  }
  /** Every chunk the record covers is known to be on stable storage. */
  get growthSynced(): boolean {
    return this.#growth === this.#syncedGrowth;
  }
  /** Which of the two record slots on disk holds the current version. */
  get slot(): 0 | 1 {
    return this.#slot;
  }
  /**
   * The slot whose record a power cut cannot take away (known durable, or the one read or
   * created first): never overwritten. Updates go to the other slot, again and again, until a
   * sync makes that one durable (see InodeTable.#target).
   */
  get keptSlot(): 0 | 1 {
    return this.#keptSlot;
  }
  /** The slot updates go to: never the kept one. */
  get freeSlot(): 0 | 1 {
    return this.#keptSlot === 0 ? 1 : 0;
  }
  /** The data dir's count of syncs started when `slot` was last written (-1: never). */
  get slotWrittenAt(): number {
    return this.#slotWrittenAt;
  }
  /**
   * The count of syncs started when the inode file last moved (rename, hard link; -1: never):
   * until a sync started after that completes, the move may be undone by a power cut, and both
   * slots (the record for the old place and the one for the new) must stay as they are.
   */
  get movedAt(): number {
    return this.#movedAt;
  }

  /** Whether the last move may still be undone by a power cut, given the last completed sync. */
  moveUnsynced(syncedUpTo: number): boolean {
    return this.#movedAt >= 0 && syncedUpTo <= this.#movedAt;
  }

  /** Whether the slot last written is durable, given the last completed sync. */
  slotSynced(syncedUpTo: number): boolean {
    return this.#slot === this.#keptSlot || syncedUpTo > this.#slotWrittenAt;
  }

  /** The record was changed in memory. */
  changed(): void {
    this.#dirty = true;
  }

  /** A snapshot of the record is taken to be written: clean now; its sequence number. */
  saving(): number {
    this.#dirty = false;
    return ++this.#seq;
  }

  /**
   * Claims the write of snapshot `seq` (under the save lock): false if a newer one was written
   * first (this one is obsolete). Throws once the inode is gone or deleted, or for a `seq` that
   * `saving` never handed out.
   */
  writing(seq: number): boolean {
    if (this.#deleted || this.#gone) {
      throw new Error(`durability: record write after the inode was ${this.#state()}`);
    }
    if (!Number.isInteger(seq) || seq > this.#seq) {
      throw new Error(`durability: record snapshot ${seq} was never taken`);
    }
    if (seq < this.#writtenSeq) return false;
    this.#writtenSeq = seq;
    return true;
  }

  /** A record write failed: the record is dirty again. */
  saveFailed(): void {
    this.#dirty = true;
  }

  /** The inode lost its last name: its record is not written while it lives on in memory. */
  unnamed(): void {
    this.#dirty = false;
  }

  /**
   * `slot` now holds the current record, written when the data dir's sync count was `stamp`;
   * `durable` when it was synced (it becomes the kept slot).
   */
  saved(slot: 0 | 1, stamp: number, durable: boolean): void {
    this.#slot = slot;
    this.#slotWrittenAt = stamp;
    if (durable) this.#keptSlot = slot;
  }

  /** A sync started after the slot last written completed: that slot is now the kept one. */
  slotDurable(): void {
    if (this.#slotWrittenAt < 0) throw new Error("durability: no slot written to become durable");
    this.#keptSlot = this.#slot;
  }

  /**
   * The inode file moved (at sync count `stamp`) with its record in `slot`, synced before the
   * move.
   */
  moved(slot: 0 | 1, stamp: number): void {
    this.saved(slot, stamp, true);
    this.#movedAt = stamp;
  }

  /**
   * A move failed: the free slot may hold a record for the place the file did not reach, so
   * only the kept one is known to open where it is; the record is dirty again.
   */
  moveFailed(): void {
    this.#slot = this.#keptSlot;
    this.#dirty = true;
  }

  /**
   * A move was undone (the file is back at its old place): `kept`, the kept slot before the
   * move, holds the record again; dirty again.
   */
  moveUndone(kept: 0 | 1): void {
    this.#slot = kept;
    this.#keptSlot = kept;
    this.#dirty = true;
  }

  /** The record newly covers stored chunks (the size grew over them, or a hole was filled). */
  grew(): void {
    this.#growth++;
  }

  /** A sync that started once `growth` was `upTo` completed: those chunks are durable. */
  growthDurable(upTo: number): void {
    if (upTo > this.#growth) {
      throw new Error(`durability: growth ${upTo} made durable, only ${this.#growth} happened`);
    }
    this.#syncedGrowth = Math.max(this.#syncedGrowth, upTo);
  }

  /** The file shrank to `keep` chunks: the slots past them go once the record is durable. */
  shrank(keep: number): void {
    this.#trimTo = Math.min(this.#trimTo ?? Infinity, keep);
    this.#shrinks++;
  }

  /** The flusher takes the pending trim (its record is durable and no shrink came since). */
  trimming(): void {
    this.#trimTo = null;
  }

  /** Dropping the slots from `keep` on failed: pending again. */
  trimFailed(keep: number): void {
    this.#trimTo = Math.min(this.#trimTo ?? Infinity, keep);
  }

  /**
   * The inode file is about to leave the tree and is kept in the trash at `path` (null: it could
   * not be kept) as its backing file until the inode is deleted.
   */
  kept(path: string | null): void {
    if (this.#deleted) throw new Error("durability: file kept after the inode was deleted");
    this.#keptPath = path;
  }

  /** Its entry file was unlinked or replaced (or its objects left the tree): gone for good. */
  unlinkedEntry(): void {
    if (this.#deleted) throw new Error("durability: entry unlinked after the inode was deleted");
    this.#gone = true;
  }

  /** Its objects are being deleted: no record is written again. */
  deletedObjects(): void {
    this.#deleted = true;
    this.#dirty = false;
  }

  /** Takes the path kept in the trash (for the caller to release), leaving none. */
  takeKept(): string | null {
    const path = this.#keptPath;
    this.#keptPath = null;
    return path;
  }

  #state(): string {
    return this.#deleted ? "deleted" : "gone";
  }
}
