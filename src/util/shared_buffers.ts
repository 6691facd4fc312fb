/**
 * Buffers shared with the chunk workers once and then named by number. Moving an ArrayBuffer
 * to another thread (`postMessage` with transfer) costs no copy, but V8 counts every buffer a
 * thread receives as newly allocated memory, and the old one only stops counting at the next
 * full collection: a sequential read through FUSE made each thread run a full mark-compact
 * every 25–60 ms while its resident memory stayed flat. A SharedArrayBuffer is counted once,
 * when it is made; a request then carries its number, not the buffer.
 *
 * A shared buffer cannot be detached as a moved ArrayBuffer is, so a view used after its
 * buffer was handed back reads whatever the buffer holds next: callers hand every view back
 * once, after its last use (the lease rules of {@link ./lease_pool.ts}). A buffer whose views
 * are never handed back is not lost: once they are garbage, so is the buffer, and `forget`
 * tells the workers. With poisoning on (`lease.ts`), a buffer is filled with the poison byte
 * as it is freed, so a view used after that reads as poison until the buffer is taken again.
 */
import { poison, poisonFromEnv } from "./lease.ts";

/** Same-size shared buffers, made on first need up to a limit, reused after. */
export class SharedBuffers {
  readonly #free: SharedArrayBuffer[] = [];
  readonly #ids = new WeakMap<SharedArrayBuffer, number>();
  readonly #live = new Map<number, WeakRef<SharedArrayBuffer>>();
  readonly #gone: FinalizationRegistry<number>;
  #next = 0;

  /**
   * @param bytes size of every buffer
   * @param max buffers alive at most; beyond that, {@link take} returns null
   * @param announce called once per new buffer (to share it with the workers)
   * @param forget called once a buffer is garbage (for the workers to let go of it)
   * @param poisoned fill each buffer with the poison byte as it is freed (default:
   *   `RENCFS_POISON_BUFFERS=1`)
   */
  constructor(
    readonly bytes: number,
    readonly max: number,
    private readonly announce: (id: number, buf: SharedArrayBuffer) => void,
    forget: (id: number) => void,
    private readonly poisoned: boolean = poisonFromEnv(),
  ) {
    this.#gone = new FinalizationRegistry((id) => {
      this.#live.delete(id);
      forget(id);
    });
  }

  /** A view of the first `bytes` of a free buffer (contents undefined), or null. */
  take(bytes: number): Uint8Array<SharedArrayBuffer> | null {
    if (bytes > this.bytes) return null;
    let buf = this.#free.pop();
    if (!buf) {
      if (this.#live.size >= this.max) return null;
      buf = new SharedArrayBuffer(this.bytes);
      const id = this.#next++;
      this.#ids.set(buf, id);
      this.#live.set(id, new WeakRef(buf));
      this.#gone.register(buf, id);
      this.announce(id, buf);
    }
    return new Uint8Array(buf, 0, bytes);
  }

  /** The number of `buf`, or undefined when it is not one of these buffers. */
  idOf(buf: ArrayBufferLike): number | undefined {
    return buf instanceof SharedArrayBuffer ? this.#ids.get(buf) : undefined;
  }

  /** Frees the buffer under `view`; false when `view` is not on one of these buffers. */
  give(view: Uint8Array): boolean {
    const buf = view.buffer;
    if (this.idOf(buf) === undefined) return false;
    if (this.#free.includes(buf as SharedArrayBuffer)) return true;
    if (this.poisoned) poison(new Uint8Array(buf));
    this.#free.push(buf as SharedArrayBuffer);
    return true;
  }

  /** Every live buffer (for a worker that starts after they were made). */
  *entries(): IterableIterator<[number, SharedArrayBuffer]> {
    for (const [id, ref] of this.#live) {
      const buf = ref.deref();
      if (buf) yield [id, buf];
    }
  }

  /** Bytes of the buffers alive (free or not): memory that is not garbage. */
  get liveBytes(): number {
    return this.#live.size * this.bytes;
  }

  /** Buffers alive and not free. */
  get inUse(): number {
    return this.#live.size - this.#free.length;
  }

  /**
   * Lets go of the free buffers (they become garbage; `forget` follows) and returns their
   * numbers, for the workers to let go of them now rather than after the next collection.
   */
  dropFree(): number[] {
    const ids = this.#free.map((b) => this.#ids.get(b)!);
    this.#free.length = 0;
    return ids;
  }
}
