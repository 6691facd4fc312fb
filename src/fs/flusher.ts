/**
 * The flusher: when records reach the disk and how they become durable. Dirty records are
 * written in the background (one syncfs for many files), chunk slots past the end of shrunk
 * files are dropped only once their shrunk records are durable, `fsync` is a barrier for the
 * names changed before it, and `syncAll` / close write everything. The ordering rules are in
 * docs/format.md, "Crash consistency".
 * @module
 */
import { DamagedObjectError } from "../store/record_store.ts";
import type { FsCore } from "./fs_core.ts";
import type { Inode } from "./inode_table.ts";
import { ROOT_INO } from "./types.ts";

/**
 * How often dirty records are written (after one syncfs): what a crash can lose of files being
 * written, like ext4's 5-second journal commit. fsync(2) makes a file durable at once.
 */
export const FLUSH_INTERVAL_MS = Number(Deno.env.get("RENCFS_FLUSH_MS") ?? 5000);

/** Writes dirty records in the background and makes records durable on request. */
export class Flusher {
  readonly #core: FsCore;
  /**
   * Files whose shrink left chunk slots to drop (at `Durability.trimTo`) after the next syncfs
   * (FileData.trim): FileData adds them (its `onShrunk`), each pass here takes them.
   */
  readonly #toTrim: Set<Inode>;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  #flushing: Promise<void> | null = null;

  /**
   * Starts the background flush every `intervalMs` (not when read-only); `toTrim` is the set
   * the core's file data adds shrunk files to.
   */
  constructor(core: FsCore, toTrim: Set<Inode>, intervalMs = FLUSH_INTERVAL_MS) {
    this.#core = core;
    this.#toTrim = toTrim;
    if (core.readOnly) return;
    this.#timer = setInterval(() => {
      this.#flushDirty().catch(() => {});
    }, intervalMs);
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  /** Stops the background flush. */
  stop(): void {
    clearInterval(this.#timer);
  }

  /**
   * Writes the record of `node` (if `force` or dirty) so that it, the name of its file and every
   * name change made before survive a power cut, as ext4 gives an application that fsyncs: the
   * record alone is synced when no name changed since the last syncfs, else one syncfs covers
   * all (a new file's name, its new parent directories, a rename into place).
   */
  async durable(node: Inode, force: boolean): Promise<void> {
    const table = this.#core.table;
    const names = !table.namespaceSynced;
    await table.save(node, { durable: !names, force });
    if (names) await table.syncData();
  }

  // Writes dirty records in the background, then drops what shrinks left; one pass at a time.
  #flushDirty(): Promise<void> {
    if (!this.#flushing) {
      const table = this.#core.table;
      const nodes = table.dirty().filter((n) => n.rec.nlink > 0 || n.ino === ROOT_INO);
      this.#flushing = table.saveMany(nodes).then(() => this.#trimShrunk())
        .finally(() => this.#flushing = null);
    }
    return this.#flushing;
  }

  // Drops the chunk slots past the end of shrunk files, after one syncfs has made their shrunk
  // records durable (see FileData.truncate).
  async #trimShrunk(): Promise<void> {
    if (this.#toTrim.size === 0) return;
    const core = this.#core;
    const pending = [...this.#toTrim].map((node) => ({
      node,
      keep: node.durability.trimTo,
      shrinks: node.durability.shrinks,
    }));
    this.#toTrim.clear();
    await core.table.syncData();
    for (const { node, keep, shrinks } of pending) {
      const d = node.durability;
      if (keep === null || d.deleted) continue;
      // Shrunk again since (its record not yet durable, and a record in between may cover more
      // than the size now): left whole for the next pass.
      if (d.shrinks !== shrinks) {
        this.#toTrim.add(node);
        continue;
      }
      d.trimming();
      await core.data.trim(node, keep).catch((e) => {
        if (e instanceof DamagedObjectError) core.report(e);
        else if (!d.deleted && !d.gone) {
          // Closed under it, say: tried again by the next pass.
          d.trimFailed(keep);
          this.#toTrim.add(node);
        }
      });
    }
  }

  /** Writes every dirty record of a linked inode, durably, then drops what shrinks left. */
  async syncAll(): Promise<void> {
    const core = this.#core;
    if (core.readOnly) return;
    const table = core.table;
    const saveLinked = () => table.saveMany(table.dirty().filter((n) => n.rec.nlink > 0));
    try {
      await this.#flushDirty();
      await saveLinked();
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOSPC") throw e;
      // A full disk: removed files still waiting in the trash may be what fills it.
      await core.trash.drain();
      await saveLinked();
    }
    // Records are replaced by rename without an fsync each; one syncfs makes all of it
    // durable at once.
    await table.syncData();
    await this.#trimShrunk();
  }
}
