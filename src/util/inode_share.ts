/**
 * How much of the inode budget (src/util/memory_budget.ts) is in force. The budget is an
 * estimate, ~3 KiB of resident memory per live inode; what the rest of the process holds varies
 * (after a stream the chunk worker keeps its images and heap, tens of MiB). When a collection
 * near the ceiling leaves resident memory still close to it, the garbage was not what filled it:
 * live inodes are, so fewer are kept (the mount then asks the kernel to forget the oldest). Once
 * memory is well under the ceiling again, the share grows back step by step.
 *
 * Process-wide, like the ceiling it divides.
 */

/** Lowest share: a quarter of the budget (still 5,800 inodes at the default ceiling). */
export const MIN_INODE_SHARE = 0.25;
/** Factor applied at each collection that leaves memory near the ceiling. */
const SHRINK = 0.8;
/** Share regained per check while memory is well under the ceiling. */
const GROW = 0.05;

let share = 1;

/** The share of the inode budget in force, from {@link MIN_INODE_SHARE} to 1. */
export function inodeShareNow(): number {
  return share;
}

/** Sets the share (clamped); for the pressure logic below and for tests. */
export function setInodeShare(value: number): void {
  share = Math.min(1, Math.max(MIN_INODE_SHARE, value));
}

/**
 * After a collection near the ceiling: `rss` is what is still resident, `comfortable` the level
 * under which the mount is at ease. Returns true when the share was lowered (the caller prunes).
 */
export function shareAfterCollection(rss: number, comfortable: number): boolean {
  if (rss < comfortable || share <= MIN_INODE_SHARE) return false;
  setInodeShare(share * SHRINK);
  return true;
}

/** On a periodic check: while `rss` is under `comfortable`, the share grows back by a step. */
export function shareOnCheck(rss: number, comfortable: number): void {
  if (rss < comfortable && share < 1) setInodeShare(share + GROW);
}
