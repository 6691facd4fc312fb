/**
 * Young garbage collected by the bytes it holds, not by the objects. V8 collects its young
 * generation when the JS objects made since the last collection fill it (`--max-semi-space-size`);
 * the buffers behind them do not count. A `node:crypto` call on a 64 KiB chunk leaves a 64 KiB
 * result behind a few KiB of objects, so a thread doing chunk crypto piled up 50–80 MiB of dead
 * buffers between two collections, on each thread, freed only by a full collection that V8 starts
 * late and a starved CPU finishes later still (daemon peaks of ~300 MiB under a 192 MiB ceiling
 * during random writes through mmap). The code that makes such buffers tells {@link madeGarbage}
 * how many bytes it left behind; every {@link GARBAGE_BUDGET} of them, the thread runs a young
 * collection (about a millisecond: nearly everything in it is dead), which frees them at once.
 * Buffers a pool stops keeping may be old already: they count towards a full collection.
 *
 * A young collection on demand needs V8's `gc` function with options, which only the
 * `--expose-gc` flag at start-up provides (the mount's V8 flags, `src/cli/daemon.ts`); without
 * it, nothing is done and V8's own schedule applies.
 */

/** Bytes of dead buffers a thread may leave behind before it collects them. */
export const GARBAGE_BUDGET = 8 << 20;

type Gc = (options?: { type?: "minor" | "major"; execution?: "sync" | "async" }) => void;

const gc: Gc | null = typeof (globalThis as { gc?: unknown }).gc === "function"
  ? (globalThis as unknown as { gc: Gc }).gc
  : null;

let young = 0;
let old = 0;
let collections = 0;

/**
 * Notes `bytes` of buffers just let go of. `young` (the default): made moments ago, dead
 * already (a cipher call's result); a young collection frees them. Otherwise they may have
 * lived long enough to be promoted (a pooled buffer the pool no longer keeps): only a full
 * collection frees those. Each kind is collected once {@link GARBAGE_BUDGET} of it is owed.
 */
export function madeGarbage(bytes: number, kind: "young" | "old" = "young"): void {
  if (kind === "old") old += bytes;
  else young += bytes;
  if (old >= GARBAGE_BUDGET) {
    old = young = 0;
    collect("major");
  } else if (young >= GARBAGE_BUDGET) {
    young = 0;
    collect("minor");
  }
}

function collect(type: "minor" | "major"): void {
  if (!gc) return;
  gc({ type });
  collections++;
}

/** Collections run by {@link madeGarbage} on this thread so far (for tests). */
export function garbageCollections(): number {
  return collections;
}
