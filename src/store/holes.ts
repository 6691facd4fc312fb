/**
 * Hole bookkeeping. A file's never-written chunk ranges are listed in its (authenticated)
 * inode record, so holes read as zeros without stored chunks and an attacker cannot turn a
 * stored chunk into a hole by deleting it: a missing chunk that is not listed is an error.
 * The list is kept sorted, disjoint and merged.
 */
import { type Hole, MAX_HOLES } from "./format/record.ts";

export { MAX_HOLES };

/** Whether chunk `i` is inside a hole. */
export function inHole(holes: readonly Hole[], i: number): boolean {
  let lo = 0, hi = holes.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [s, e] = holes[mid];
    if (i < s) hi = mid - 1;
    else if (i >= e) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Adds `[start, end)`, merging with neighbours. */
export function addHole(holes: Hole[], start: number, end: number): void {
  if (end <= start) return;
  const out: Hole[] = [];
  let cur: Hole = [start, end];
  let placed = false;
  for (const h of holes) {
    if (h[1] < cur[0]) out.push(h);
    else if (h[0] > cur[1]) {
      if (!placed) out.push(cur), placed = true;
      out.push(h);
    } else cur = [Math.min(h[0], cur[0]), Math.max(h[1], cur[1])];
  }
  if (!placed) out.push(cur);
  holes.splice(0, holes.length, ...out);
}

/** Removes chunk `i` from the holes (it is about to be stored); returns whether it was a hole. */
export function fillHole(holes: Hole[], i: number): boolean {
  for (let k = 0; k < holes.length; k++) {
    const [s, e] = holes[k];
    if (i < s) return false;
    if (i >= e) continue;
    const parts: Hole[] = [];
    if (s < i) parts.push([s, i]);
    if (i + 1 < e) parts.push([i + 1, e]);
    holes.splice(k, 1, ...parts);
    return true;
  }
  return false;
}

/** Drops every hole at or past chunk `count` (the file was shortened to `count` chunks). */
export function cutHoles(holes: Hole[], count: number): void {
  const out: Hole[] = [];
  for (const [s, e] of holes) {
    if (s >= count) break;
    out.push([s, Math.min(e, count)]);
  }
  holes.splice(0, holes.length, ...out);
}

/** Number of chunks inside holes. */
export function holeChunks(holes: readonly Hole[]): number {
  let n = 0;
  for (const [s, e] of holes) n += e - s;
  return n;
}

/** When the list is too long, the smallest hole ranges: the caller stores them as zero chunks. */
export function excessHoles(holes: readonly Hole[]): Hole[] {
  if (holes.length <= MAX_HOLES) return [];
  return [...holes].sort((a, b) => (a[1] - a[0]) - (b[1] - b[0])).slice(
    0,
    holes.length - MAX_HOLES,
  );
}
