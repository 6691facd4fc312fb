/**
 * The kernel's lookup count per inode, mirrored on the adapter side. The kernel does not send
 * FORGET for the inodes it still knows at unmount, so at the end of a session the adapter hands
 * back what is left (`drain`) and the filesystem sees balanced retain/forget calls: an inode
 * unlinked while the kernel still knew it is then really deleted.
 *
 * @module
 */

/** Lookup counts by inode number. */
export class LookupCounts {
  private readonly counts = new Map<bigint, number>();

  /** The kernel got one more reference to `ino`. */
  add(ino: bigint): void {
    this.counts.set(ino, (this.counts.get(ino) ?? 0) + 1);
  }

  /**
   * The kernel dropped `n` references to `ino`. Returns how many of them were known (the
   * kernel never forgets more than it looked up, but a count is never taken below zero).
   */
  remove(ino: bigint, n: number): number {
    const have = this.counts.get(ino) ?? 0;
    const take = Math.min(have, n);
    if (have - take === 0) this.counts.delete(ino);
    else this.counts.set(ino, have - take);
    return take;
  }

  /** Current count of `ino`. */
  get(ino: bigint): number {
    return this.counts.get(ino) ?? 0;
  }

  /** Number of inodes with a nonzero count. */
  get size(): number {
    return this.counts.size;
  }

  /** Empties the table, returning every remaining `[ino, count]`. */
  drain(): [bigint, number][] {
    const all = [...this.counts];
    this.counts.clear();
    return all;
  }
}
