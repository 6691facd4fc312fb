/**
 * Full backing disk with the kernel's writeback cache. The kernel acknowledges `write()` into
 * its page cache and hands the data to the mount later; a write-back that then fails with
 * ENOSPC is dropped by the kernel, while `write()` went on succeeding and the file's size went
 * on growing in the kernel's view. So the mount refuses data *before* the disk is full: it keeps
 * a floor of free space larger than what the kernel may hold dirty for this mount (its bdi's
 * `max_bytes`, lowered for small disks), and below that floor a `write()` fails with ENOSPC.
 *
 * The hook: with the writeback cache, the kernel asks for a file's attributes (GETATTR with
 * its handle) on `write()` whenever its cached ones expired. Once free space drops near the
 * floor ("tight"), attributes are handed out with no lifetime and the cached ones of files
 * open for writing are invalidated, so every `write()` asks; below the floor, that GETATTR of
 * a handle open for writing answers ENOSPC, and `write()` returns it. Everything `write()`
 * accepted before still fits under the floor, so it reaches the disk and sizes stay true.
 * The kernel asks the same GETATTR for `fstat`, `lseek(SEEK_END)` and reads past its cached
 * end: below the floor those fail with ENOSPC too on a handle open for writing (O_RDWR included),
 * while read-only handles and `stat` by path are not affected.
 *
 * @module
 */

/** Free space of the backing filesystem, in bytes. */
export interface SpaceInfo {
  /** Bytes an unprivileged writer can still use. */
  available: number;
  /** Size of the filesystem. */
  total: number;
}

/** Data the kernel may hold dirty for the mount, set on its bdi; smaller for small disks. */
export function dirtyLimitFor(total: number, kernelMax: number): number {
  const MIB = 1 << 20;
  return Math.min(kernelMax, Math.max(4 * MIB, Math.floor(total / 16)));
}

/** The floor of free space below which writes are refused. */
export function floorFor(total: number, dirtyLimit: number): number {
  // Dirty pages plus the write-backs in flight to the mount (at most 16 MiB of requests) and
  // the records and entries the store still writes; never more than a quarter of a tiny disk.
  return Math.min(dirtyLimit + (16 << 20), Math.floor(total / 4));
}

/** Re-reads free space at most this often while writes arrive (ms). */
const POLL_MS = 100;

/** Tracks free space and says when writes must be refused. */
export class SpaceGuard {
  /** Near the floor: attributes get no lifetime, so each write() asks (see module doc). */
  tight = false;
  #available = Infinity;
  #checkedAt = -Infinity;
  #checking: Promise<void> | null = null;
  #floor = 0;

  /**
   * `probe` reads the backing filesystem's free space; `onTight` runs when the guard becomes
   * tight (to invalidate the kernel's cached attributes of files open for writing).
   */
  constructor(
    private readonly probe: () => Promise<SpaceInfo>,
    private dirtyLimit: number,
    private readonly onTight: () => void,
  ) {}

  /** Sets the dirty limit the kernel was given (after mounting). */
  setDirtyLimit(bytes: number): void {
    this.dirtyLimit = bytes;
  }

  /** Bytes below which writes are refused (known after the first check). */
  get floor(): number {
    return this.#floor;
  }

  /** Re-reads free space if the last reading is older than POLL_MS (or `now`). */
  check(now = false): Promise<void> {
    if (this.#checking) return this.#checking;
    if (!now && performance.now() - this.#checkedAt < POLL_MS) return Promise.resolve();
    this.#checking = this.probe().then((s) => {
      this.#checkedAt = performance.now();
      this.#available = s.available;
      this.#floor = floorFor(s.total, this.dirtyLimit);
      const tight = s.available < 4 * this.#floor;
      if (tight && !this.tight) {
        this.tight = true;
        this.onTight();
      } else if (!tight) this.tight = false;
    }).catch(() => {}).finally(() => this.#checking = null);
    return this.#checking;
  }

  /** Whether a write must be refused now (fresh reading taken when tight). */
  async refuse(): Promise<boolean> {
    await this.check(this.tight);
    return this.#available < this.#floor;
  }
}
