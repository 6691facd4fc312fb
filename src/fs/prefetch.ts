/**
 * Lookup prefetch: many names of one directory looked up one by one (`stat` of every file,
 * `ls -l` without readdirplus, a build scanning its tree) read every entry file of that
 * directory ahead, all at once, so the following lookups find them in the page cache instead of
 * waiting for one disk read each. Once per directory per PREFETCH_AGAIN_MS, in the background.
 * @module
 */
import type { DirStore } from "../store/dir_store.ts";

/** Positive lookups in one directory after which its entry files are read ahead. */
const PREFETCH_AFTER_LOOKUPS = 32;
/** A directory is read ahead again at most this often. */
const PREFETCH_AGAIN_MS = 10 * 60_000;
/** Entry files read ahead per directory, at most. */
const PREFETCH_MAX_ENTRIES = 16_384;
/** Directories counted or remembered, at most (then forgotten all at once). */
const TRACKED_MAX = 4096;

/** Counts lookups per directory and reads a busy directory's entry files ahead. */
export class LookupPrefetcher {
  readonly #dirs: DirStore;
  readonly #lookups = new Map<bigint, number>();
  readonly #prefetched = new Map<bigint, number>();

  constructor(dirs: DirStore) {
    this.#dirs = dirs;
  }

  /** A lookup in directory `parent` (entry files in `folder`) found a name. */
  notePositiveLookup(parent: bigint, folder: string): void {
    const n = (this.#lookups.get(parent) ?? 0) + 1;
    this.#lookups.set(parent, n);
    if (this.#lookups.size > TRACKED_MAX) this.#lookups.clear();
    if (n !== PREFETCH_AFTER_LOOKUPS) return;
    const last = this.#prefetched.get(parent) ?? -Infinity;
    if (performance.now() - last < PREFETCH_AGAIN_MS) return;
    this.markPrefetched(parent);
    this.#lookups.delete(parent);
    this.#dirs.prefetch(folder, PREFETCH_MAX_ENTRIES).catch(() => {});
  }

  /** Directory `ino`'s entry files were just read (ahead, or by a listing). Bounded. */
  markPrefetched(ino: bigint): void {
    if (this.#prefetched.size > TRACKED_MAX) this.#prefetched.clear();
    this.#prefetched.set(ino, performance.now());
  }
}
