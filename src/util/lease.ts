/**
 * Buffer ownership as a value. Plaintext buffers are lent out and reused (see `lease_pool.ts`);
 * a {@link Lease} holds the views of one loan and hands them back exactly once. A second
 * `release` throws, and so does reaching the views through a released lease.
 *
 * A view kept past its release is still a bug the type cannot see: a shared buffer cannot be
 * detached, so such a view reads whatever the buffer holds next, possibly another file's
 * plaintext. With poisoning on ({@link poisonFromEnv}: `RENCFS_POISON_BUFFERS=1`, or the pools'
 * constructor option), every byte handed back is overwritten with {@link POISON_BYTE} first, so
 * that such a read shows up in a test as poison. Off (the default) it costs one branch.
 *
 * @module
 */

/** The byte released memory is filled with when poisoning is on. */
export const POISON_BYTE = 0xdb;

/** The environment variable that turns poisoning on (`1`). */
export const POISON_ENV = "RENCFS_POISON_BUFFERS";

/** Whether `RENCFS_POISON_BUFFERS=1` is set (false when the environment cannot be read). */
export function poisonFromEnv(): boolean {
  try {
    return Deno.env.get(POISON_ENV) === "1";
  } catch {
    return false; // no --allow-env: the default
  }
}

/** Overwrites `view` with {@link POISON_BYTE} (for memory being handed back). */
export function poison(view: Uint8Array): void {
  view.fill(POISON_BYTE);
}

/** A lease used after its release: released twice, or its views reached afterwards. */
export class LeaseReleasedError extends Error {
  override name = "LeaseReleasedError";
}

/**
 * Views lent out together (read-only unless the lender says otherwise), valid until
 * {@link release}. Releasing is optional (views never handed back are garbage-collected) but
 * must happen at most once, after the last use of every view.
 */
export class Lease {
  #views: readonly Uint8Array[] | null;
  readonly #giveBack: (views: readonly Uint8Array[]) => void;
  /** Total length of the views. */
  readonly bytes: number;

  /** `giveBack` is called once, by the first {@link release}. */
  constructor(views: readonly Uint8Array[], giveBack: (views: readonly Uint8Array[]) => void) {
    this.#views = views;
    this.#giveBack = giveBack;
    let n = 0;
    for (const v of views) n += v.length;
    this.bytes = n;
  }

  /** A lease of views that belong to nobody (nothing to hand back). */
  static of(views: readonly Uint8Array[]): Lease {
    return new Lease(views, () => {});
  }

  /** The lent views; throws {@link LeaseReleasedError} once released. */
  get views(): readonly Uint8Array[] {
    if (this.#views === null) throw new LeaseReleasedError("lease used after release");
    return this.#views;
  }

  /** Whether {@link release} was called. */
  get released(): boolean {
    return this.#views === null;
  }

  /**
   * Hands the views back; none of them may be touched afterwards. Throws
   * {@link LeaseReleasedError} when called a second time.
   */
  release(): void {
    const views = this.#views;
    if (views === null) throw new LeaseReleasedError("lease released twice");
    this.#views = null;
    this.#giveBack(views);
  }
}
