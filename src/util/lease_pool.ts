/**
 * Buffers lent out as several views and reused once every view is handed back: the chunks of
 * a read go to different readers, and a buffer left to the garbage collector instead stays
 * allocated until a collection finds it (~100 MiB of them during a 1 GiB sequential read through
 * FUSE, daemon RSS peak 302-325 -> 243-260 MiB).
 *
 * A buffer that comes back is moved to a new ArrayBuffer (`transfer`, no copy): every view of
 * the old one is detached. A view used after its release (a bug) then reads as empty, never as
 * the data of a later read. Shared buffers ({@link SharedBuffers}) cannot be detached:
 * they are handed back as they are, and their views must not be touched after release. With
 * poisoning on (`lease.ts`), a view that comes back is filled with the poison byte first, so a
 * use after release reads as poison.
 */
import { BufferPool } from "./buffer_pool.ts";
import { poison, poisonFromEnv } from "./lease.ts";
import type { SharedBuffers } from "./shared_buffers.ts";

/** A pool of buffers lent out as counted views. */
export class LeasePool {
  readonly #spare: BufferPool;
  /** Buffers on loan and how many of their views are still out. */
  readonly #out = new WeakMap<ArrayBufferLike, number>();

  /**
   * `shared`: buffers to lend first, while one is free and big enough. `poisoned`: fill views
   * with the poison byte as they come back (default: `RENCFS_POISON_BUFFERS=1`).
   */
  constructor(
    max: number,
    private readonly shared?: SharedBuffers,
    private readonly poisoned: boolean = poisonFromEnv(),
  ) {
    this.#spare = new BufferPool(max);
  }

  /** A buffer of `bytes` (contents undefined), to be filled and then {@link lend}. */
  take(bytes: number): Uint8Array {
    return this.shared?.take(bytes) ?? this.#spare.take(bytes, false);
  }

  /** Lends the buffer under `buf` out as `views` views (reused at once when `views` is 0). */
  lend(buf: Uint8Array, views: number): void {
    if (views > 0) this.#out.set(buf.buffer, views);
    else this.#reuse(buf.buffer);
  }

  /**
   * Takes back one view (each view once, after its last use). Returns false for a view of a
   * buffer not on loan from this pool (ignored).
   */
  release(view: Uint8Array): boolean {
    const b = view.buffer;
    const left = this.#out.get(b);
    if (left === undefined) return false;
    if (this.poisoned) poison(view);
    if (left > 1) {
      this.#out.set(b, left - 1);
    } else {
      this.#out.delete(b);
      this.#reuse(b);
    }
    return true;
  }

  #reuse(b: ArrayBufferLike): void {
    if (b instanceof SharedArrayBuffer) return void this.shared?.give(new Uint8Array(b));
    if (b instanceof ArrayBuffer && !b.detached) this.#spare.give(new Uint8Array(b.transfer()));
  }

  /** Drops every spare buffer (those on loan are left to the garbage collector). */
  clear(): void {
    this.#spare.clear();
  }
}
