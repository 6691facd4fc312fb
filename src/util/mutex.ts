/**
 * Async locks. Filesystem operations await each other only where they touch the same object:
 * one directory's entries, one inode's record, one chunk.
 *
 * Lock order in src/fs (outermost first; a lock is only ever taken while holding locks earlier
 * in this list, never later ones, so no two operations wait for each other in a cycle):
 *
 * 1. directory locks (`Namespace.dirLocks` in src/fs/namespace.ts, a KeyedMutex by directory
 *    inode): name operations; several (rename, link) in ascending inode order through `runAll`;
 * 2. `Inode.resizeLock` (RwLock): reads and writes shared, truncation and trimming exclusive;
 * 3. `Inode.extendLock`: size and hole bookkeeping of growing writes and truncation;
 * 4. `Inode.chunkLocks` (KeyedMutex by chunk index): several in ascending index (`runAll`);
 * 5. `Inode.saveLock`: record writes and moves of the inode's file; innermost, nothing is
 *    taken under it.
 *
 * tests/fs_lock_order_test.ts checks this order under a mixed workload; docs/architecture.md
 * says the same.
 */

/** A FIFO async mutex. */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();
  #held = 0;

  /** True while someone holds or waits for the lock. */
  get busy(): boolean {
    return this.#held > 0;
  }

  /** Runs `fn` with the lock held. */
  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    const prev = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((r) => release = r);
    this.#held++;
    try {
      await prev;
      return await fn();
    } finally {
      this.#held--;
      release();
    }
  }
}

/** Mutexes created on demand per key and dropped when idle, so memory stays bounded. */
export class KeyedMutex<K> {
  readonly #locks = new Map<K, Mutex>();

  /** Runs `fn` holding the lock of `key`. */
  async run<T>(key: K, fn: () => Promise<T> | T): Promise<T> {
    let m = this.#locks.get(key);
    if (!m) {
      m = new Mutex();
      this.#locks.set(key, m);
    }
    try {
      return await m.run(fn);
    } finally {
      if (!m.busy && this.#locks.get(key) === m) this.#locks.delete(key);
    }
  }

  /** True while no key is locked or waited for. */
  get idle(): boolean {
    return this.#locks.size === 0;
  }

  /** Runs `fn` holding the locks of every key (taken in a fixed order, so no deadlock). */
  runAll<T>(keys: K[], fn: () => Promise<T> | T): Promise<T> {
    const sorted = [...new Set(keys)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const step = (i: number): Promise<T> =>
      i === sorted.length ? Promise.resolve().then(fn) : this.run(sorted[i], () => step(i + 1));
    return step(0);
  }
}

/**
 * A readers-writer lock: many shared holders at once, or one exclusive holder. Waiting
 * exclusive requests block new shared ones, so a truncation is not starved by a stream of writes.
 */
export class RwLock {
  #shared = 0;
  #exclusive = false;
  #queue: { exclusive: boolean; go: () => void }[] = [];

  /** True while nobody holds or waits for the lock. */
  get idle(): boolean {
    return this.#shared === 0 && !this.#exclusive && this.#queue.length === 0;
  }

  #pump(): void {
    while (this.#queue.length) {
      const next = this.#queue[0];
      if (next.exclusive) {
        if (this.#shared > 0 || this.#exclusive) return;
        this.#exclusive = true;
      } else {
        if (this.#exclusive) return;
        this.#shared++;
      }
      this.#queue.shift();
      next.go();
    }
  }

  async #run<T>(exclusive: boolean, fn: () => Promise<T> | T): Promise<T> {
    await new Promise<void>((go) => {
      this.#queue.push({ exclusive, go });
      this.#pump();
    });
    try {
      return await fn();
    } finally {
      if (exclusive) this.#exclusive = false;
      else this.#shared--;
      this.#pump();
    }
  }

  /** Runs `fn` alongside other shared holders. */
  shared<T>(fn: () => Promise<T> | T): Promise<T> {
    return this.#run(false, fn);
  }

  /** Runs `fn` alone. */
  exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    return this.#run(true, fn);
  }
}
