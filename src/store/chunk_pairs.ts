/**
 * Which slot of each chunk pair a write may use (format 3, `format/chunk_slot.ts`): never the one
 * holding the chunk's durable version. A write goes to the other slot, again and again while it
 * is not yet durable; once a sync that started after the write has completed (a `syncfs` of the
 * data dir, or an `fdatasync` of the file), that slot holds the durable version and the next
 * write goes to the other one. A power cut during a write then tears only a slot nobody relies
 * on.
 *
 * One tracker per inode, kept while the inode is loaded (across opens of its content); an inode
 * with writes not yet durable is not forgotten (`settled`). What the tracker does not know is
 * read from the disk by `ContentFile`: after a writable open's `syncfs`, the newest slot that
 * opens is the durable one.
 */

/**
 * Counts `syncfs` calls of the data dir: started, the count at the start of the last one done,
 * and the one running now. A slot whose write a running sync covers must not be overwritten
 * until that sync ends: a caller of fsync may be waiting on it to make exactly those bytes
 * durable, and the other slot holds only an older version.
 */
export class SyncClock {
  /** syncfs calls started. */
  started = 0;
  /** The value of `started` at the start of the last completed syncfs. */
  syncedUpTo = 0;
  /** The number of the syncfs running now, or 0. */
  running = 0;
  #ended: (() => void)[] = [];

  /** Notes a syncfs starting; pass the result to {@link done} when it ends. */
  begin(): number {
    this.running = this.started + 1;
    return ++this.started;
  }

  /** Notes that the syncfs numbered `n` ended, successfully when `ok`. */
  done(n: number, ok = true): void {
    if (ok) this.syncedUpTo = Math.max(this.syncedUpTo, n);
    if (this.running !== n) return;
    this.running = 0;
    const waiting = this.#ended;
    this.#ended = [];
    for (const go of waiting) go();
  }

  /** Whether a write that completed when `started` was `stamp` is durable. */
  covers(stamp: number): boolean {
    return this.syncedUpTo > stamp;
  }

  /**
   * While a syncfs that started after a write completed at `stamp` runs: a promise of its end.
   * Otherwise null.
   */
  covering(stamp: number): Promise<void> | null {
    if (this.running <= stamp) return null;
    return new Promise((go) => this.#ended.push(go));
  }
}

/** Where a chunk's current version is (slot 0 or 1) and its generation. */
export interface SlotChoice {
  slot: 0 | 1;
  gen: number;
}

interface Entry extends SlotChoice {
  /** Writes of this chunk in progress. */
  writing: number;
  /** clock.started when the last write completed, or -1 when known durable. */
  at: number;
  /** The tracker's write count then (for fdatasync of the file). */
  w: number;
  /** The last write failed: its slot may hold anything, even a whole newer version. */
  failed?: boolean;
}

/** Durable entries kept for reuse (a rewrite need not read the pair's headers again). */
const KEEP_DURABLE = 1024;

/** The slot state of one inode's chunk pairs (see the module comment). */
export class ChunkPairs {
  readonly #clock: SyncClock;
  readonly #known = new Map<number, Entry>();
  #writes = 0;
  #fileSynced = 0;
  #unsynced = 0;
  #sweepAt = 2 * KEEP_DURABLE;
  #inProgress = 0;
  // fdatasync calls of the file running, the newest stamp among them, and who waits for them.
  #fileSyncs = 0;
  #fileSyncFrom = -1;
  #fileSyncEnded: (() => void)[] = [];

  constructor(clock: SyncClock) {
    this.#clock = clock;
  }

  #durable(e: Entry): boolean {
    if (e.writing > 0) return false;
    if (e.at < 0) return true;
    if (this.#clock.covers(e.at) || e.w <= this.#fileSynced) {
      e.at = -1;
      this.#unsynced--;
      return true;
    }
    return false;
  }

  /**
   * A promise to wait for before writing chunk `i` again, or null: a sync (syncfs, or fdatasync
   * of the file) that started after its last write is running. Wait, then ask again.
   */
  busy(i: number): Promise<void> | null {
    const e = this.#known.get(i);
    if (!e || e.writing > 0 || this.#durable(e)) return null;
    const fs = this.#clock.covering(e.at);
    if (fs) return fs;
    if (this.#fileSyncs > 0 && this.#fileSyncFrom >= e.w) {
      return new Promise((go) => this.#fileSyncEnded.push(go));
    }
    return null;
  }

  /**
   * The slot and generation the next write of chunk `i` goes to, or null when the tracker does
   * not know where the chunk's current version is (the caller looks at the disk, then calls
   * {@link observed}).
   */
  target(i: number): SlotChoice | null {
    const e = this.#known.get(i);
    if (!e) return null;
    if (!this.#durable(e)) return { slot: e.slot, gen: e.gen };
    if (e.failed) {
      // Synced since the failure: what the disk shows is durable now, look there.
      this.#known.delete(i);
      return null;
    }
    return { slot: e.slot === 0 ? 1 : 0, gen: e.gen + 1 };
  }

  /**
   * Where chunk `i`'s newest version is when the tracker knows it for certain: a version was
   * written there (or a read found it there), no write of the chunk is in progress and none
   * failed. Else null: a reader then looks at both slots.
   */
  current(i: number): SlotChoice | null {
    const e = this.#known.get(i);
    if (!e || e.gen === 0 || e.writing > 0 || e.failed) return null;
    return { slot: e.slot, gen: e.gen };
  }

  /** The slot holding chunk `i`'s newest version, as far as the tracker knows (else null). */
  slotOf(i: number): 0 | 1 | null {
    const e = this.#known.get(i);
    return e && e.gen > 0 ? e.slot : null;
  }

  /**
   * Notes where the current version of chunk `i` is on disk (slot 1 with generation 0 when
   * neither slot holds one), as a read found it (reads of one chunk are synchronous: no write
   * lands in between). Ignored when the tracker knows better.
   */
  observed(i: number, c: SlotChoice): void {
    if (this.#known.has(i)) return;
    this.#known.set(i, { ...c, writing: 0, at: -1, w: 0 });
    this.#bound();
  }

  /** A write of `c` for chunk `i` begins (call {@link wrote} or {@link failed} after it). */
  begin(i: number, c: SlotChoice): void {
    this.#inProgress++;
    const e = this.#known.get(i);
    if (e) {
      if (e.at >= 0 && e.writing === 0) this.#unsynced--;
      // Moved to the end: the map's order is the order of last use.
      this.#known.delete(i);
      this.#known.set(i, { slot: c.slot, gen: c.gen, writing: e.writing + 1, at: 0, w: 0 });
    } else this.#known.set(i, { ...c, writing: 1, at: 0, w: 0 });
  }

  /** The write of chunk `i` begun last completed. */
  wrote(i: number): void {
    this.#ended(i, false);
  }

  /**
   * A write of chunk `i` failed: its slot may hold anything (even the whole new version), so
   * further writes keep to that slot until a sync, after which the tracker forgets the chunk
   * and the next write looks at the disk again.
   */
  failed(i: number): void {
    this.#ended(i, true);
  }

  #ended(i: number, failed: boolean): void {
    this.#inProgress--;
    const e = this.#known.get(i);
    if (!e || --e.writing > 0) return;
    e.at = this.#clock.started;
    e.w = ++this.#writes;
    e.failed = failed;
    this.#unsynced++;
    this.#bound();
  }

  /**
   * An fdatasync of the file starts: returns its stamp, for {@link fileSyncEnded}. Writes
   * completed before it are covered.
   */
  fileSyncStarted(): number {
    this.#fileSyncs++;
    this.#fileSyncFrom = Math.max(this.#fileSyncFrom, this.#writes);
    return this.#writes;
  }

  /** The fdatasync stamped `stamp` ended; when `ok`, every write it covers is durable. */
  fileSyncEnded(stamp: number, ok: boolean): void {
    if (ok) this.#fileSynced = Math.max(this.#fileSynced, stamp);
    if (--this.#fileSyncs > 0) return;
    this.#fileSyncFrom = -1;
    const waiting = this.#fileSyncEnded;
    this.#fileSyncEnded = [];
    for (const go of waiting) go();
  }

  /** Chunks from `count` on were dropped (the file was cut): nothing is known of them. */
  dropFrom(count: number): void {
    for (const [i, e] of this.#known) {
      if (i < count || e.writing > 0) continue;
      if (e.at >= 0) this.#unsynced--;
      this.#known.delete(i);
    }
  }

  /** Chunks the tracker knows about (for tests: it stays bounded). */
  get size(): number {
    return this.#known.size;
  }

  /** True when no write is in progress or waiting for a sync. */
  settled(): boolean {
    if (this.#inProgress > 0) return false;
    if (this.#unsynced === 0) return true;
    for (const e of this.#known.values()) if (!this.#durable(e)) return false;
    return true;
  }

  // Forgets the least recently used durable entries beyond KEEP_DURABLE. Entries of writes a
  // sync has covered since still count as unsynced until looked at, so the sweep looks at all;
  // it runs again only once the map has doubled (amortised constant cost per entry).
  #bound(): void {
    if (this.#known.size <= this.#sweepAt) return;
    for (const [i, e] of this.#known) {
      if (this.#known.size <= KEEP_DURABLE) break;
      if (this.#durable(e)) this.#known.delete(i);
    }
    this.#sweepAt = Math.max(2 * KEEP_DURABLE, 2 * this.#known.size);
  }
}
